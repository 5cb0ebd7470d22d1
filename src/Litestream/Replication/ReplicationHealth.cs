using System.Globalization;
using System.Text;
using Litestream.Storage;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Replication;

/// <summary>
/// What the running <c>replicate</c> process knows about one database's replication: whether the last sync
/// (WAL → local L0 file) and the last upload (L0 → replica) failed, since when, how often and why. Kept in
/// <c>&lt;meta&gt;/health</c> so <c>litestream status</c>, which reads files only, can say that replication is
/// failing. The file is preallocated (<see cref="FileSize"/> bytes) and rewritten in place, so reporting still
/// works when the disk holding the meta directory is full — the moment it matters most.
/// </summary>
public sealed class ReplicationHealth : IDisposable
{
    /// <summary>Size of the health file; messages are cut to fit.</summary>
    public const int FileSize = 4096;

    private const string FileName = "health";
    private readonly Lock _lock = new();
    private readonly string _path;
    private SafeFileHandle? _handle;
    private HealthFailure? _sync;
    private HealthFailure? _upload;

    /// <summary>Starts reporting for the database whose meta directory is <paramref name="metaPath"/>.</summary>
    public ReplicationHealth(string metaPath)
    {
        _path = Path.Combine(metaPath, FileName);
        Write();
    }

    /// <summary>The last sync failed with <paramref name="error"/>.</summary>
    public void SyncFailed(string error) => Update(ref _sync, error);

    /// <summary>A sync succeeded.</summary>
    public void SyncSucceeded() => Clear(ref _sync);

    /// <summary>The last upload to the replica failed with <paramref name="error"/>.</summary>
    public void UploadFailed(string error) => Update(ref _upload, error);

    /// <summary>An upload pass succeeded.</summary>
    public void UploadSucceeded() => Clear(ref _upload);

    /// <summary>Reads the health a running <c>replicate</c> reported; null when none is running for this meta directory.</summary>
    public static HealthReport? Read(string metaPath)
    {
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(metaPath, FileName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        int pid = 0;
        HealthFailure? sync = null;
        HealthFailure? upload = null;
        foreach (string line in text.Split('\n'))
        {
            string[] parts = line.Split(' ', 4);
            switch (parts[0])
            {
                case "pid" when parts.Length == 2:
                    _ = int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out pid);
                    break;
                case "sync" or "upload" when parts.Length == 4:
                    HealthFailure failure = new(
                        DateTimeOffset.Parse(parts[1], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
                        int.Parse(parts[2], CultureInfo.InvariantCulture),
                        parts[3]);
                    if (parts[0] == "sync")
                    {
                        sync = failure;
                    }
                    else
                    {
                        upload = failure;
                    }
                    break;
            }
        }
        // A file left by a process that is gone (killed) describes nothing current.
        return pid > 0 && Directory.Exists($"/proc/{pid}") ? new HealthReport(pid, sync, upload) : null;
    }

    /// <summary>Removes the file: replication of this database stopped.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _handle?.Dispose();
            _handle = null;
            try
            {
                File.Delete(_path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private void Update(ref HealthFailure? slot, string error)
    {
        lock (_lock)
        {
            slot = slot is null
                ? new HealthFailure(DateTimeOffset.UtcNow, 1, error)
                : slot with { Count = slot.Count + 1, Error = error };
            Write();
        }
    }

    private void Clear(ref HealthFailure? slot)
    {
        lock (_lock)
        {
            if (slot is not null)
            {
                slot = null;
                Write();
            }
        }
    }

    private void Write()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"pid {Environment.ProcessId}\n");
        Append(text, "sync", _sync);
        Append(text, "upload", _upload);
        byte[] content = new byte[FileSize];
        content.AsSpan().Fill((byte)'\n');
        // At most 4 UTF-8 bytes a character: a quarter of the file in characters always fits.
        Encoding.UTF8.GetBytes(text.ToString().AsSpan(0, Math.Min(text.Length, FileSize / 4)), content);
        try
        {
            // Created once at full size; later writes overwrite the same blocks and need no free space.
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            _handle ??= File.OpenHandle(_path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            RandomAccess.Write(_handle, content, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Reporting is best effort: the log line for the same failure is always written.
            _handle?.Dispose();
            _handle = null;
        }
    }

    private static void Append(StringBuilder text, string name, HealthFailure? failure)
    {
        if (failure is not null)
        {
            // Other processes read this file (status prints it): no credential leaves in it.
            string error = Redaction.Apply(failure.Error).ReplaceLineEndings(" ");
            text.Append(CultureInfo.InvariantCulture, $"{name} {failure.Since:yyyy-MM-ddTHH:mm:ssZ} {failure.Count} {error}\n");
        }
    }
}

/// <summary>A failure that has not cleared: first seen at <paramref name="Since"/>, <paramref name="Count"/> attempts, the last error.</summary>
public sealed record HealthFailure(DateTimeOffset Since, int Count, string Error);

/// <summary>What a running replicate process (<paramref name="Pid"/>) reported for one database.</summary>
public sealed record HealthReport(int Pid, HealthFailure? Sync, HealthFailure? Upload)
{
    /// <summary>One line describing the failures, or null when replication is healthy.</summary>
    public string? Describe()
    {
        var parts = new List<string>(2);
        if (Sync is { } s)
        {
            parts.Add($"sync failing since {s.Since:yyyy-MM-ddTHH:mm:ssZ} ({s.Count} attempts): {s.Error}");
        }
        if (Upload is { } u)
        {
            parts.Add($"upload failing since {u.Since:yyyy-MM-ddTHH:mm:ssZ} ({u.Count} attempts): {u.Error}");
        }
        return parts.Count == 0 ? null : string.Join("; ", parts);
    }
}
