using System.Buffers;
using System.Globalization;
using System.Text;
using Litestream.Ltx;
using Litestream.Storage;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Replication;

/// <summary>
/// What the running <c>replicate</c> process knows about one database's replication: whether the last sync
/// (WAL → local L0 file) and the last upload (L0 → replica) failed, since when, how often and why, and which
/// TXID the replica holds. Kept in <c>&lt;meta&gt;/health</c> so <c>litestream status</c>, which reads files
/// only, can say that replication is failing, or that the replica trails the local state (an upload stuck on
/// a stalled connection fails only when its timeout runs out). The file is preallocated (<see cref="FileSize"/>
/// bytes) and rewritten in place, so reporting still works when the disk holding the meta directory is full —
/// the moment it matters most.
/// </summary>
public sealed class ReplicationHealth : IDisposable
{
    /// <summary>Size of the health file; messages are cut to fit.</summary>
    public const int FileSize = 16384;

    /// <summary>Characters of one replica's error kept in the file, so every replica's line fits.</summary>
    private const int ReplicaErrorLength = 400;

    private const string FileName = "health";
    private readonly Lock _lock = new();
    private readonly string _path;
    private SafeFileHandle? _handle;
    private int _written; // bytes of text the last write left before the newlines
    private readonly DateTimeOffset _startedAt = Now();
    private readonly TimeSpan _lagAllowance;
    private HealthFailure? _sync;
    private HealthFailure? _upload;
    private Txid? _replicaTxid;
    private DateTimeOffset _replicatedAt;
    // Each replica's own line (several replicas per database), in the order they were tracked.
    private readonly List<ReplicaHealth> _replicas = [];

    /// <summary>
    /// How long past its sync interval an upload may take before <c>status</c> calls the replica behind (5 s):
    /// long enough for a normal upload, short against the stall timeouts (a minute by default).
    /// </summary>
    public static readonly TimeSpan LagGrace = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Starts reporting for the database whose meta directory is <paramref name="metaPath"/>, replicated every
    /// <paramref name="syncInterval"/>: the replica may trail the local state by that plus <see cref="LagGrace"/>.
    /// </summary>
    public ReplicationHealth(string metaPath, TimeSpan syncInterval)
    {
        _path = Path.Combine(metaPath, FileName);
        _lagAllowance = syncInterval + LagGrace;
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

    /// <summary>The replica holds <paramref name="txid"/> (after an upload pass, or as found on first contact).</summary>
    public void Replicated(Txid txid)
    {
        lock (_lock)
        {
            if (_replicaTxid != txid)
            {
                _replicaTxid = txid;
                _replicatedAt = Now();
                Write();
            }
        }
    }

    /// <summary>Lists the replica <paramref name="name"/> (<paramref name="type"/>) in the file before anything is known of it.</summary>
    public void Track(string name, string type) => UpdateReplica(name, type, r => r);

    /// <summary>The replica <paramref name="name"/> holds <paramref name="txid"/>.</summary>
    public void ReplicaReplicated(string name, string type, Txid txid)
        => UpdateReplica(name, type, r => r.Txid == txid ? r : r with { Txid = txid, ReplicatedAt = Now() });

    /// <summary>An upload to the replica <paramref name="name"/> failed with <paramref name="error"/>.</summary>
    public void ReplicaFailed(string name, string type, string error)
        => UpdateReplica(name, type, r => r with
        {
            Upload = r.Upload is { } u ? u with { Count = u.Count + 1, Error = error } : new HealthFailure(Now(), 1, error),
        });

    /// <summary>An upload pass to the replica <paramref name="name"/> succeeded.</summary>
    public void ReplicaSucceeded(string name, string type) => UpdateReplica(name, type, r => r.Upload is null ? r : r with { Upload = null });

    private void UpdateReplica(string name, string type, Func<ReplicaHealth, ReplicaHealth> update)
    {
        lock (_lock)
        {
            int index = _replicas.FindIndex(r => r.Name == name);
            ReplicaHealth current = index >= 0 ? _replicas[index] : new ReplicaHealth(name, type, null, default, null);
            ReplicaHealth next = update(current);
            if (index >= 0 && next == current)
            {
                return;
            }
            if (index >= 0)
            {
                _replicas[index] = next;
            }
            else
            {
                _replicas.Add(next);
            }
            Write();
        }
    }

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
        DateTimeOffset started = default;
        TimeSpan allowance = LagGrace;
        Txid? replica = null;
        DateTimeOffset replicatedAt = default;
        var replicas = new List<ReplicaHealth>();
        foreach (string line in text.Split('\n'))
        {
            string[] parts = line.Split(' ', 4);
            switch (parts[0])
            {
                case "replica-of" when line.Split(' ') is { Length: 5 } r:
                    replicas.Add(new ReplicaHealth(Uri.UnescapeDataString(r[1]), r[2], Txid.TryParse(r[3], out Txid held) ? held : null, r[4] == "-" ? default : ParseTime(r[4]), null));
                    break;
                case "replica-upload" when line.Split(' ', 5) is { Length: 5 } u && replicas.FindIndex(x => x.Name == Uri.UnescapeDataString(u[1])) is >= 0 and int i:
                    replicas[i] = replicas[i] with { Upload = new HealthFailure(ParseTime(u[2]), int.Parse(u[3], CultureInfo.InvariantCulture), u[4]) };
                    break;
                case "pid" when parts.Length == 2:
                    _ = int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out pid);
                    break;
                case "started" when parts.Length == 2:
                    started = ParseTime(parts[1]);
                    break;
                case "lag-allowance" when parts.Length == 2:
                    allowance = TimeSpan.FromMilliseconds(long.Parse(parts[1], CultureInfo.InvariantCulture));
                    break;
                case "replica" when parts.Length == 3 && Txid.TryParse(parts[1], out Txid txid):
                    replica = txid;
                    replicatedAt = ParseTime(parts[2]);
                    break;
                case "sync" or "upload" when parts.Length == 4:
                    HealthFailure failure = new(ParseTime(parts[1]), int.Parse(parts[2], CultureInfo.InvariantCulture), parts[3]);
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
        return pid > 0 && Directory.Exists($"/proc/{pid}")
            ? new HealthReport(pid, sync, upload) { StartedAt = started, LagAllowance = allowance, ReplicaTxid = replica, ReplicatedAt = replicatedAt, Replicas = replicas }
            : null;
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
                ? new HealthFailure(Now(), 1, error)
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
        text.Append(CultureInfo.InvariantCulture, $"started {FormatTime(_startedAt)}\n");
        text.Append(CultureInfo.InvariantCulture, $"lag-allowance {(long)_lagAllowance.TotalMilliseconds}\n");
        if (_replicaTxid is { } replica)
        {
            text.Append(CultureInfo.InvariantCulture, $"replica {replica} {FormatTime(_replicatedAt)}\n");
        }
        // Positions, then failures, then the aggregate failures: a cut at the end of the file loses those first.
        foreach (ReplicaHealth r in _replicas)
        {
            text.Append(CultureInfo.InvariantCulture, $"replica-of {Uri.EscapeDataString(r.Name)} {r.Type} {(r.Txid is { } t ? t.ToString() : "-")} {(r.Txid is null ? "-" : FormatTime(r.ReplicatedAt))}\n");
        }
        foreach (ReplicaHealth r in _replicas)
        {
            if (r.Upload is { } u)
            {
                string error = Redaction.Apply(u.Error).ReplaceLineEndings(" ");
                error = error.Length > ReplicaErrorLength ? error[..ReplicaErrorLength] : error;
                text.Append(CultureInfo.InvariantCulture, $"replica-upload {Uri.EscapeDataString(r.Name)} {FormatTime(u.Since)} {u.Count} {error}\n");
            }
        }
        Append(text, "sync", _sync);
        Append(text, "upload", _upload);
        // A pooled buffer for each write, not one kept per database: 1,000 idle databases would hold 16 MB for files
        // rewritten only when a sync, an upload or a failure changes them. The text, then newlines over whatever the
        // previous, longer text left; a write covers only that much once the file has its full size.
        byte[] content = ArrayPool<byte>.Shared.Rent(FileSize);
        try
        {
            // At most 4 UTF-8 bytes a character: a quarter of the file in characters always fits.
            int length = Encoding.UTF8.GetBytes(text.ToString().AsSpan(0, Math.Min(text.Length, FileSize / 4)), content);
            int written = _handle is null ? FileSize : Math.Max(length, _written);
            content.AsSpan(length, written - length).Fill((byte)'\n');
            // Created once at full size; later writes overwrite the same blocks and need no free space.
            if (_handle is null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
                _handle = File.OpenHandle(_path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            }
            RandomAccess.Write(_handle, content.AsSpan(0, written), 0);
            _written = length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Reporting is best effort: the log line for the same failure is always written.
            _handle?.Dispose();
            _handle = null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(content);
        }
    }

    private static void Append(StringBuilder text, string name, HealthFailure? failure)
    {
        if (failure is not null)
        {
            // Other processes read this file (status prints it): no credential leaves in it.
            string error = Redaction.Apply(failure.Error).ReplaceLineEndings(" ");
            text.Append(CultureInfo.InvariantCulture, $"{name} {FormatTime(failure.Since)} {failure.Count} {error}\n");
        }
    }

    /// <summary>Whole seconds: what the file and <c>status</c> show.</summary>
    private static DateTimeOffset Now() => DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    internal static string FormatTime(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
}

/// <summary>A failure that has not cleared: first seen at <paramref name="Since"/>, <paramref name="Count"/> attempts, the last error.</summary>
public sealed record HealthFailure(DateTimeOffset Since, int Count, string Error);

/// <summary>What a running replicate process (<paramref name="Pid"/>) reported for one database.</summary>
public sealed record HealthReport(int Pid, HealthFailure? Sync, HealthFailure? Upload)
{
    /// <summary>When the process started replicating the database.</summary>
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>How long the replica may trail the local state before it counts as behind (sync interval + <see cref="ReplicationHealth.LagGrace"/>).</summary>
    public TimeSpan LagAllowance { get; init; } = ReplicationHealth.LagGrace;

    /// <summary>The TXID the replica holds, as the process knows it; null until it reached the replica.</summary>
    public Txid? ReplicaTxid { get; init; }

    /// <summary>When <see cref="ReplicaTxid"/> last changed: the last upload.</summary>
    public DateTimeOffset ReplicatedAt { get; init; }

    /// <summary>Each replica of the database as the process reported it (several replicas per database), in configuration order.</summary>
    public IReadOnlyList<ReplicaHealth> Replicas { get; init; } = [];

    /// <summary>
    /// The replica <paramref name="name"/>'s state (<see cref="ReplicaStatus"/>) against the local TXID
    /// <paramref name="localTxid"/>; <paramref name="oldestMissingAt"/> is when the oldest local L0 file the replica
    /// lacks was written. Null when the process did not report that replica.
    /// </summary>
    public ReplicaStatus? StatusOf(string name, Txid localTxid, DateTimeOffset? oldestMissingAt, DateTimeOffset now)
    {
        if (Replicas.FirstOrDefault(r => r.Name == name) is not { } r)
        {
            return null;
        }
        string? error = r.Upload is { } u ? $"upload failing since {ReplicationHealth.FormatTime(u.Since)} ({u.Count} attempts): {u.Error}" : null;
        return ReplicaStatus.Create(r.Name, r.Type, localTxid, r.Txid, oldestMissingAt, StartedAt, error, released: false, LagAllowance, now);
    }

    /// <summary>One line describing the failures, or null when neither syncs nor uploads are failing.</summary>
    public string? Describe()
    {
        var parts = new List<string>(2);
        if (Sync is { } s)
        {
            parts.Add($"sync failing since {ReplicationHealth.FormatTime(s.Since)} ({s.Count} attempts): {s.Error}");
        }
        if (Upload is { } u)
        {
            parts.Add($"upload failing since {ReplicationHealth.FormatTime(u.Since)} ({u.Count} attempts): {u.Error}");
        }
        return parts.Count == 0 ? null : string.Join("; ", parts);
    }

    /// <summary>
    /// One line saying the replica trails the local state, or null when it does not (beyond the allowance):
    /// <paramref name="localTxid"/> is the newest local L0 file, <paramref name="pendingSince"/> the time the
    /// oldest local L0 file the replica does not hold was written. An upload hanging on a stalled connection
    /// shows here before its timeout turns it into a failure.
    /// </summary>
    public string? DescribeLag(Txid localTxid, DateTimeOffset? pendingSince, DateTimeOffset now)
    {
        if (localTxid.IsZero)
        {
            return null;
        }
        if (ReplicaTxid is not { } replica)
        {
            return now - StartedAt > LagAllowance
                ? $"replica not reached since {ReplicationHealth.FormatTime(StartedAt)}: local txid {localTxid} is not known to be replicated"
                : null;
        }
        if (replica >= localTxid || pendingSince is not { } since || now - since <= LagAllowance)
        {
            return null;
        }
        return $"replica behind since {ReplicationHealth.FormatTime(since)}: it holds txid {replica} (last upload {ReplicationHealth.FormatTime(ReplicatedAt)}), local txid is {localTxid}";
    }
}

/// <summary>One replica of a database as the running process reported it: name, type, the TXID it holds and since when, its failing uploads.</summary>
public sealed record ReplicaHealth(string Name, string Type, Txid? Txid, DateTimeOffset ReplicatedAt, HealthFailure? Upload);
