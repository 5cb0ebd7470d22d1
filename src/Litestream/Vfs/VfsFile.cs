using System.Buffers;
using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Vfs.Native;

namespace Litestream.Vfs;

/// <summary>
/// One SQLite connection's handle on a replica: which snapshot it reads (pinned from SHARED lock to
/// unlock, or a time-travel snapshot), the page-1 patch, and the <c>litestream_*</c> pragmas.
/// </summary>
internal sealed class VfsFile
{
    private VfsSnapshot? _pinned;
    private bool _hydrated; // the pinned read transaction reads the hydrated local copy
    private VfsSnapshot? _travel;
    private DateTimeOffset? _travelTime;
    private VfsWriteState? _state; // write mode: the state this transaction reads (and, in a write transaction, writes)
    private int _lock;

    public VfsFile(VfsReplica replica) => Replica = replica;

    public VfsReplica Replica { get; }

    /// <summary>What this connection reads now.</summary>
    public VfsSnapshot View => _pinned ?? _travel ?? Replica.Latest!;

    /// <summary>Write mode without time travel: reads go through the writer's state (local commits over the replica).</summary>
    private VfsWriter? Writer => _travel is null ? Replica.Writer : null;

    /// <summary>The database size in bytes.</summary>
    public long Size => Writer is { } writer ? (_state ?? writer.Current).Size : View.Size;

    /// <exception cref="VfsBusyException">A write transaction cannot start (another writer, a conflict, a stale read).</exception>
    /// <exception cref="InvalidOperationException">A write lock on a connection that cannot write (no write mode, or time travel).</exception>
    public void Lock(int level)
    {
        if (_lock == SqliteCodes.LockNone && level >= SqliteCodes.LockShared)
        {
            _pinned = _travel ?? Replica.Latest;
            _state = Writer?.Current;
            _hydrated = _travel is null && _pinned is not null && Replica.Hydrator is { } hydrator && hydrator.TryPin(_pinned.Txid);
        }
        if (level >= SqliteCodes.LockReserved && _lock < SqliteCodes.LockReserved)
        {
            VfsWriter writer = Writer ?? throw new InvalidOperationException(Replica.Writer is null ? "not in write mode" : "litestream_time is set: a past state cannot be written");
            _state = writer.Begin(this, _state ?? writer.Current);
        }
        _lock = Math.Max(_lock, level);
    }

    public void Unlock(int level)
    {
        if (_lock >= SqliteCodes.LockReserved && level < SqliteCodes.LockReserved)
        {
            VfsWriteState published = Replica.Writer!.End(this);
            _state = level == SqliteCodes.LockNone ? null : published;
        }
        _lock = level;
        if (level == SqliteCodes.LockNone)
        {
            _pinned = null;
            _state = null;
            if (_hydrated)
            {
                _hydrated = false;
                Replica.Hydrator!.Unpin();
            }
        }
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>; false for a short read (the rest zero-filled).</summary>
    public bool Read(Span<byte> destination, long offset)
    {
        if (Writer is { } writer)
        {
            return ReadWritable(writer, _state ?? writer.Current, destination, offset);
        }
        VfsSnapshot snapshot = View;
        if (_hydrated)
        {
            return ReadHydrated(destination, offset, snapshot);
        }
        int pageSize = (int)snapshot.PageSize;
        byte[] page = ArrayPool<byte>.Shared.Rent(pageSize);
        try
        {
            int done = 0;
            while (done < destination.Length)
            {
                long position = offset + done;
                long pgno = position / pageSize + 1;
                if (pgno > snapshot.Pages.Length)
                {
                    destination[done..].Clear();
                    return false;
                }
                int inPage = (int)(position % pageSize);
                int n = Math.Min(pageSize - inPage, destination.Length - done);
                // SQLite reads whole pages at page offsets: decode into its buffer, not a copy.
                Span<byte> buffer = n == pageSize ? destination.Slice(done, pageSize) : page.AsSpan(0, pageSize);
                VfsSnapshot read = snapshot;
                Replica.ReadPage(ref read, (uint)pgno, buffer);
                if (read != snapshot)
                {
                    // The index was rebuilt at the same TXID (a file vanished): keep reading from it.
                    _pinned = _pinned == snapshot ? read : _pinned;
                    _travel = _travel == snapshot ? read : _travel;
                    snapshot = read;
                }
                if (pgno == 1)
                {
                    Page1Patch.Apply(buffer, 0, (uint)snapshot.Txid.Value);
                }
                if (n != pageSize)
                {
                    buffer.Slice(inPage, n).CopyTo(destination[done..]);
                }
                done += n;
            }
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
    }

    /// <summary>Reads <paramref name="state"/>: local pages over the replica's; page 1's change counter is the state's version.</summary>
    private static bool ReadWritable(VfsWriter writer, VfsWriteState state, Span<byte> destination, long offset)
    {
        long available = Math.Clamp(state.Size - offset, 0, destination.Length);
        if (available > 0)
        {
            int pageSize = (int)state.PageSize;
            byte[] page = ArrayPool<byte>.Shared.Rent(pageSize);
            try
            {
                for (int done = 0; done < available;)
                {
                    long position = offset + done;
                    int inPage = (int)(position % pageSize);
                    int n = (int)Math.Min(pageSize - inPage, available - done);
                    writer.ReadPage(state, (uint)(position / pageSize) + 1, page.AsSpan(0, pageSize));
                    page.AsSpan(inPage, n).CopyTo(destination[done..]);
                    done += n;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(page);
            }
            Page1Patch.Apply(destination[..(int)available], offset, (uint)state.Version);
        }
        destination[(int)available..].Clear();
        return available == destination.Length;
    }

    /// <summary>Writes into this connection's write transaction.</summary>
    /// <exception cref="InvalidOperationException">No write transaction (SQLite writes only under an exclusive lock).</exception>
    public void Write(ReadOnlySpan<byte> data, long offset)
    {
        if (_lock < SqliteCodes.LockReserved || _state is null)
        {
            throw new InvalidOperationException("write outside a write transaction");
        }
        Replica.Writer!.Write(_state, data, offset);
    }

    /// <exception cref="InvalidOperationException">No write transaction.</exception>
    public void Truncate(long size)
    {
        if (_lock < SqliteCodes.LockReserved || _state is null)
        {
            throw new InvalidOperationException("truncate outside a write transaction");
        }
        VfsWriter.Truncate(_state, size);
    }

    /// <summary>Makes this transaction's writes durable in the buffer file (SQLite syncs before its commit point).</summary>
    public void Sync() => _state?.Buffer.Flush();

    /// <summary>True while a connection of this process is in a write transaction.</summary>
    public bool Reserved => Replica.Writer?.Reserved ?? false;

    /// <summary>Reads the hydrated copy, which holds exactly <paramref name="snapshot"/>'s TXID while this transaction is pinned on it.</summary>
    private bool ReadHydrated(Span<byte> destination, long offset, VfsSnapshot snapshot)
    {
        int n = (int)Math.Clamp(snapshot.Size - offset, 0, destination.Length);
        Replica.Hydrator!.Read(destination[..n], offset);
        Page1Patch.Apply(destination[..n], offset, (uint)snapshot.Txid.Value);
        destination[n..].Clear();
        return n == destination.Length;
    }

    /// <summary>
    /// Handles <c>PRAGMA litestream_*</c>: returns null when the pragma is not ours, otherwise the SQLite
    /// code with the result text (or error message) in <paramref name="result"/>.
    /// </summary>
    public int? Pragma(string name, string? value, out string? result)
    {
        result = null;
        switch (name.ToLowerInvariant())
        {
            case "litestream_txid":
                if (value is not null)
                {
                    result = "litestream_txid is read-only";
                    return SqliteCodes.Error;
                }
                result = View.Txid.ToString();
                return SqliteCodes.Ok;
            case "litestream_lag":
                if (value is not null)
                {
                    result = "litestream_lag is read-only";
                    return SqliteCodes.Error;
                }
                result = Replica.LagSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return SqliteCodes.Ok;
            case "litestream_hydration_progress":
                if (value is not null)
                {
                    result = "litestream_hydration_progress is read-only";
                    return SqliteCodes.Error;
                }
                result = (Replica.Hydrator?.Progress ?? 0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
                return SqliteCodes.Ok;
            case "litestream_hydration_file":
                if (value is not null)
                {
                    result = "litestream_hydration_file is read-only";
                    return SqliteCodes.Error;
                }
                result = Replica.Hydrator?.FilePath ?? "";
                return SqliteCodes.Ok;
            case "litestream_write_enabled":
                if (value is not null)
                {
                    result = "litestream_write_enabled is set when the replica is opened (LITESTREAM_WRITE_ENABLED=true, or VfsReplicaOptions.WriteEnabled)";
                    return SqliteCodes.Error;
                }
                result = Replica.Writer is null ? "0" : "1";
                return SqliteCodes.Ok;
            case "litestream_time":
                return value is null ? GetTime(out result) : SetTime(value, out result);
            default:
                return null;
        }
    }

    private int GetTime(out string result)
    {
        result = LtxTimestamp.Format(_travelTime ?? View.CreatedAt);
        return SqliteCodes.Ok;
    }

    private int SetTime(string value, out string? result)
    {
        result = null;
        if (_lock != SqliteCodes.LockNone)
        {
            result = "litestream_time cannot change inside a read transaction";
            return SqliteCodes.Misuse;
        }
        if (!VfsTime.TryParse(value, DateTimeOffset.UtcNow, out DateTimeOffset? time))
        {
            result = $"invalid litestream_time \"{value}\": want a time (RFC 3339), a duration (-5m) or a modifier (-5 minutes); 'now' resets";
            return SqliteCodes.Error;
        }
        // The new value is returned as the pragma's one row: SQLite names the result column after it, and
        // a null name breaks hosts (Python's sqlite3 raises MemoryError for it).
        if (time is null)
        {
            _travel = null;
            _travelTime = null;
            return GetTime(out result);
        }
        try
        {
            _travel = Replica.BuildAt(time.Value);
            _travelTime = time;
            return GetTime(out result);
        }
        catch (TxNotAvailableException)
        {
            result = $"no replicated state at or before {LtxTimestamp.Format(time.Value)}";
            return SqliteCodes.Error;
        }
    }
}
