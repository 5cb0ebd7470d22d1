namespace Litestream.Storage;

/// <summary>Where <see cref="ProgressReplicaClient"/> counts a transfer: bytes moved, files begun, and totals learned late.</summary>
public interface ITransferProgress
{
    /// <summary>Adds to the expected totals (an upload learns its size only when it starts).</summary>
    void AddTotal(long bytes, int files);

    /// <summary>Counts bytes read or sent.</summary>
    void AddBytes(long bytes);

    /// <summary>Counts a file begun.</summary>
    void AddFile();
}
