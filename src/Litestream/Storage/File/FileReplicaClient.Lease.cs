using System.Globalization;
using Litestream.Internal;
using Litestream.Ltx.Checksums;

namespace Litestream.Storage.File;

/// <summary>
/// The lease object of a file replica. A rename alone cannot compare before it replaces, so the compare and the
/// rename run under an exclusive <c>flock</c> on <c>lease.json.lock</c> beside it (released by the kernel when the
/// holder dies; honoured across machines on NFSv4). The version tag is the content's CRC-64: every write carries a
/// new expiry, so two versions never share content.
/// </summary>
public sealed partial class FileReplicaClient
{
    /// <summary>How long a writer waits for another one's compare-and-rename (a few milliseconds of work).</summary>
    private static readonly TimeSpan LeaseLockWait = TimeSpan.FromSeconds(5);

    private string LeasePath => System.IO.Path.Combine(Root, LeaseObject.Name);

    /// <inheritdoc />
    public string? LeaseUnsupportedReason => null;

    /// <inheritdoc />
    public ValueTask<LeaseObject?> ReadLeaseAsync(CancellationToken cancellationToken) => ValueTask.FromResult(ReadLease());

    /// <inheritdoc />
    public async ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Root);
        using FileStream guard = await LockLeaseAsync(cancellationToken).ConfigureAwait(false);
        if (ReadLease()?.ETag != ifMatch)
        {
            throw new LeaseConflictException(LeasePath);
        }
        string temp = LeasePath + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                output.Write(content.Span);
                output.Flush(flushToDisk: true);
            }
            FileUtil.CommitRename(temp, LeasePath);
        }
        finally
        {
            FileUtil.TryDelete(temp);
        }
        return ETagOf(content.Span);
    }

    private LeaseObject? ReadLease()
    {
        try
        {
            using var input = new FileStream(LeasePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            byte[] buffer = new byte[LeaseObject.MaxSize];
            int length = input.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            DateTimeOffset modified = System.IO.File.GetLastWriteTimeUtc(LeasePath);
            return new LeaseObject(buffer.AsMemory(0, length), ETagOf(buffer.AsSpan(0, length)), modified, ServerNow: null);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static string ETagOf(ReadOnlySpan<byte> content) => Crc64Iso.Compute(content).ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>The exclusive lock around compare and rename (.NET's FileShare.None is an exclusive non-blocking flock on Unix).</summary>
    private async ValueTask<FileStream> LockLeaseAsync(CancellationToken cancellationToken)
    {
        string path = LeasePath + ".lock";
        DateTime giveUp = DateTime.UtcNow + LeaseLockWait;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < giveUp && System.IO.File.Exists(path))
            {
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
