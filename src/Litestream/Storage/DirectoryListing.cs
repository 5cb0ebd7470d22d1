using System.Runtime.CompilerServices;
using Litestream.Ltx;

namespace Litestream.Storage;

/// <summary>
/// The listing of a backend that lists a directory: its entries come in no particular order and carry only a
/// file time (SFTP's whole seconds, a WebDAV server's write time), so the accurate creation time, when asked
/// for, is read from each file's LTX header.
/// </summary>
internal static class DirectoryListing
{
    /// <summary>
    /// The files <paramref name="read"/> finds, ordered by (MinTxid, MaxTxid); with <paramref name="useMetadata"/>
    /// each file's time is replaced with its header time (<paramref name="concurrency"/> reads at once).
    /// </summary>
    public static async IAsyncEnumerable<LtxFileInfo> ListAsync(IReplicaClient client, Func<CancellationToken, Task<List<LtxFileInfo>>> read,
        bool useMetadata, int concurrency, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        List<LtxFileInfo> files = await read(cancellationToken).ConfigureAwait(false);
        files.Sort(static (a, b) => a.MinTxid != b.MinTxid ? a.MinTxid.CompareTo(b.MinTxid) : a.MaxTxid.CompareTo(b.MaxTxid));
        if (useMetadata)
        {
            await ReadHeaderTimesAsync(client, files, concurrency, cancellationToken).ConfigureAwait(false);
        }
        foreach (LtxFileInfo file in files)
        {
            yield return file;
        }
    }

    private static async ValueTask ReadHeaderTimesAsync(IReplicaClient client, List<LtxFileInfo> files, int concurrency, CancellationToken cancellationToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken };
        await Parallel.ForAsync(0, files.Count, options, async (i, token) =>
        {
            LtxFileInfo file = files[i];
            byte[] header = new byte[LtxConstants.HeaderSize];
            try
            {
                Stream stream = await client.OpenLtxFileAsync(file.Level, file.MinTxid, file.MaxTxid, 0, header.Length, token).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    int read = await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, token).ConfigureAwait(false);
                    if (LtxHeader.TryRead(header.AsSpan(0, read), out LtxHeader parsed))
                    {
                        files[i] = file with { CreatedAt = parsed.CreatedAt };
                    }
                }
            }
            catch (ReplicaFileNotFoundException)
            {
                // deleted since the listing: keep the listing's time
            }
        }).ConfigureAwait(false);
    }
}
