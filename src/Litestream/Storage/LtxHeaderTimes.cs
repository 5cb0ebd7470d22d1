using Litestream.Ltx;

namespace Litestream.Storage;

/// <summary>
/// The accurate creation times of listed files for a backend whose listing carries only a file time (SFTP's
/// whole seconds, a WebDAV server's write time): each file's LTX header is read for its timestamp.
/// </summary>
internal static class LtxHeaderTimes
{
    /// <summary>Replaces each file's time in <paramref name="files"/> with its header time, <paramref name="concurrency"/> reads at once.</summary>
    public static async ValueTask ApplyAsync(IReplicaClient client, List<LtxFileInfo> files, int concurrency, CancellationToken cancellationToken)
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
