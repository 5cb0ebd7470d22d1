using Litestream.Ltx;

namespace Litestream.Restore;

/// <summary>
/// Applies one LTX file of a plan into a <see cref="RestoreTarget"/>: the middle of the restore pipeline
/// (<see cref="RestorePlan"/> → applier → target). <see cref="Restorer"/> picks the implementation by the file's
/// size and where it is: <see cref="StreamedFileApplier"/> (a local file, or a small remote one fetched ahead)
/// or <see cref="SegmentedFileApplier"/> (a large remote file, as parallel ranged reads).
/// </summary>
internal interface IFileApplier : IAsyncDisposable
{
    /// <summary>
    /// Completes when the file's fetch ahead (if any) is done, so the next file's may start; faults as that
    /// fetch did.
    /// </summary>
    Task Fetched { get; }

    /// <summary>Reads what comes before the pages: the header, checked by the caller before anything is written.</summary>
    /// <exception cref="LtxFormatException">The header is malformed.</exception>
    ValueTask<LtxHeader> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes every page at its offset in <paramref name="target"/> and verifies the file checksum; the file may
    /// grow the database from <paramref name="previousCommit"/> pages only with pages it carries (<see cref="DatabaseGrowth"/>).
    /// The caller then sizes the target to the header's Commit.
    /// </summary>
    /// <exception cref="LtxFormatException">The file is damaged.</exception>
    ValueTask ApplyAsync(RestoreTarget target, uint previousCommit, CancellationToken cancellationToken);
}
