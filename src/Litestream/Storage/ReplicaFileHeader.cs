using Litestream.Ltx;

namespace Litestream.Storage;

/// <summary>Reads the header of one LTX file in a replica with a single ranged read.</summary>
internal static class ReplicaFileHeader
{
    /// <summary>The header of <paramref name="file"/>; null when the file is gone (compaction or retention removed it since the listing).</summary>
    public static async ValueTask<LtxHeader?> TryReadAsync(IReplicaClient client, LtxFileInfo file, CancellationToken cancellationToken)
    {
        Stream stream;
        try
        {
            stream = await client.OpenLtxFileAsync(file.Level, file.MinTxid, file.MaxTxid, 0, LtxHeader.Size, cancellationToken).ConfigureAwait(false);
        }
        catch (ReplicaFileNotFoundException)
        {
            return null;
        }
        await using (stream.ConfigureAwait(false))
        {
            byte[] bytes = new byte[LtxHeader.Size];
            await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
            return LtxHeader.Read(bytes);
        }
    }
}
