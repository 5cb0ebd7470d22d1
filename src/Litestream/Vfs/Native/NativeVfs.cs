using System.Runtime.InteropServices;
using System.Text;
using Litestream.Ltx;

namespace Litestream.Vfs.Native;

/// <summary>
/// The <c>litestream</c> sqlite3_vfs: C-callable entry points over <see cref="VfsFile"/>. Main database
/// files come from a replica; every other file (temp files, statement journals) goes to the default VFS,
/// which also serves randomness, sleep, time and extension loading. No exception ever leaves an entry
/// point: failures become SQLite codes, with the text logged (<see cref="VfsLog"/>).
/// </summary>
internal static unsafe class NativeVfs
{
    private static SqliteHost? s_host;
    private static SqliteVfs* s_vfs;
    private static SqliteVfs* s_default;
    private static SqliteIoMethods* s_methods;

    /// <summary>Registers the VFS once per process with <paramref name="host"/>; later calls do nothing.</summary>
    public static int Register(SqliteHost host, string name)
    {
        lock (typeof(NativeVfs))
        {
            if (s_vfs is not null)
            {
                return SqliteCodes.Ok;
            }
            SqliteVfs* fallback = host.VfsFind(null);
            if (fallback is null)
            {
                return SqliteCodes.Error;
            }
            var methods = (SqliteIoMethods*)NativeMemory.AllocZeroed((nuint)sizeof(SqliteIoMethods));
            methods->Version = 1;
            methods->Close = (IntPtr)(delegate* unmanaged<SqliteFile*, int>)&Close;
            methods->Read = (IntPtr)(delegate* unmanaged<SqliteFile*, byte*, int, long, int>)&Read;
            methods->Write = (IntPtr)(delegate* unmanaged<SqliteFile*, byte*, int, long, int>)&Write;
            methods->Truncate = (IntPtr)(delegate* unmanaged<SqliteFile*, long, int>)&Truncate;
            methods->Sync = (IntPtr)(delegate* unmanaged<SqliteFile*, int, int>)&Sync;
            methods->FileSize = (IntPtr)(delegate* unmanaged<SqliteFile*, long*, int>)&FileSize;
            methods->Lock = (IntPtr)(delegate* unmanaged<SqliteFile*, int, int>)&Lock;
            methods->Unlock = (IntPtr)(delegate* unmanaged<SqliteFile*, int, int>)&Unlock;
            methods->CheckReservedLock = (IntPtr)(delegate* unmanaged<SqliteFile*, int*, int>)&CheckReservedLock;
            methods->FileControl = (IntPtr)(delegate* unmanaged<SqliteFile*, int, void*, int>)&FileControl;
            methods->SectorSize = (IntPtr)(delegate* unmanaged<SqliteFile*, int>)&SectorSize;
            methods->DeviceCharacteristics = (IntPtr)(delegate* unmanaged<SqliteFile*, int>)&DeviceCharacteristics;

            var vfs = (SqliteVfs*)NativeMemory.AllocZeroed((nuint)sizeof(SqliteVfs));
            vfs->Version = 2;
            vfs->SizeOfFile = Math.Max(sizeof(SqliteFile), fallback->SizeOfFile);
            vfs->MaxPathname = Math.Max(1024, fallback->MaxPathname);
            vfs->Name = Utf8(name);
            vfs->Open = (IntPtr)(delegate* unmanaged<SqliteVfs*, byte*, SqliteFile*, int, int*, int>)&Open;
            vfs->Delete = (IntPtr)(delegate* unmanaged<SqliteVfs*, byte*, int, int>)&Delete;
            vfs->Access = (IntPtr)(delegate* unmanaged<SqliteVfs*, byte*, int, int*, int>)&Access;
            vfs->FullPathname = (IntPtr)(delegate* unmanaged<SqliteVfs*, byte*, int, byte*, int>)&FullPathname;
            vfs->DlOpen = (IntPtr)(delegate* unmanaged<SqliteVfs*, byte*, void*>)&DlOpen;
            vfs->DlError = (IntPtr)(delegate* unmanaged<SqliteVfs*, int, byte*, void>)&DlError;
            vfs->DlSym = (IntPtr)(delegate* unmanaged<SqliteVfs*, void*, byte*, void*>)&DlSym;
            vfs->DlClose = (IntPtr)(delegate* unmanaged<SqliteVfs*, void*, void>)&DlClose;
            vfs->Randomness = (IntPtr)(delegate* unmanaged<SqliteVfs*, int, byte*, int>)&Randomness;
            vfs->Sleep = (IntPtr)(delegate* unmanaged<SqliteVfs*, int, int>)&Sleep;
            vfs->CurrentTime = (IntPtr)(delegate* unmanaged<SqliteVfs*, double*, int>)&CurrentTime;
            vfs->GetLastError = (IntPtr)(delegate* unmanaged<SqliteVfs*, int, byte*, int>)&GetLastError;
            vfs->CurrentTimeInt64 = (IntPtr)(delegate* unmanaged<SqliteVfs*, long*, int>)&CurrentTimeInt64;

            int rc = host.VfsRegister(vfs, makeDefault: false);
            if (rc != SqliteCodes.Ok)
            {
                return rc;
            }
            s_host = host;
            s_default = fallback;
            s_methods = methods;
            s_vfs = vfs;
            VfsLog.SqliteLog = host.Log;
            return SqliteCodes.Ok;
        }
    }

    private static byte* Utf8(string text)
    {
        int n = Encoding.UTF8.GetByteCount(text);
        var p = (byte*)NativeMemory.AllocZeroed((nuint)n + 1);
        Encoding.UTF8.GetBytes(text, new Span<byte>(p, n));
        return p;
    }

    private static string? FromUtf8(byte* p) => p is null ? null : Marshal.PtrToStringUTF8((IntPtr)p);

    private static VfsFile File(SqliteFile* file) => (VfsFile)GCHandle.FromIntPtr(file->Handle).Target!;

    private static int Fail(Exception e, string what, int code)
    {
        VfsLog.Write(VfsLog.Level.Error, $"{what}: {e.Message}", code);
        return code;
    }

    // ---- sqlite3_vfs ----

    [UnmanagedCallersOnly]
    private static int Open(SqliteVfs* vfs, byte* zName, SqliteFile* file, int flags, int* outFlags)
    {
        file->Methods = IntPtr.Zero;
        if ((flags & SqliteCodes.OpenMainJournal) != 0 && zName is not null)
        {
            // A writer's rollback journal: in a temp directory, never beside the replica's name in the working directory.
            return ((delegate* unmanaged<SqliteVfs*, byte*, SqliteFile*, int, int*, int>)s_default->Open)(s_default, JournalPath(zName), file, flags, outFlags);
        }
        if ((flags & SqliteCodes.OpenMainDb) == 0)
        {
            return ((delegate* unmanaged<SqliteVfs*, byte*, SqliteFile*, int, int*, int>)s_default->Open)(s_default, zName, file, flags, outFlags);
        }
        string name = FromUtf8(zName) ?? "";
        try
        {
            fixed (byte* key = "replica\0"u8)
            {
                string? url = FromUtf8(s_host!.UriParameter(zName, key));
                VfsReplica? replica = LitestreamVfs.Resolve(name, url);
                if (replica is null)
                {
                    VfsLog.Write(VfsLog.Level.Error,
                        $"open {name}: no replica: register one (LitestreamVfs.AddReplica), or pass replica=URL in the URI, or set LITESTREAM_REPLICA_URL",
                        SqliteCodes.CantOpen);
                    return SqliteCodes.CantOpen;
                }
                replica.EnsureOpen();
                replica.FileOpened();
                file->Handle = GCHandle.ToIntPtr(GCHandle.Alloc(new VfsFile(replica)));
                file->Methods = (IntPtr)s_methods;
                if (outFlags is not null)
                {
                    *outFlags = replica.Writer is not null ? flags : (flags & ~(SqliteCodes.OpenReadWrite | SqliteCodes.OpenCreate)) | SqliteCodes.OpenReadOnly;
                }
                return SqliteCodes.Ok;
            }
        }
        catch (Exception e) when (e is LtxKeyMissingException or FormatException)
        {
            // An encrypted replica without its key, or a key variable that is no key: not a damaged database.
            return Fail(e, $"open {name}", SqliteCodes.CantOpen);
        }
        catch (Exception e) when (e is LtxFormatException or InvalidDataException)
        {
            // The replica's files are damaged or hostile (a snapshot missing pages, a file whose name and
            // header disagree): the database image is malformed, as a read of a damaged page reports.
            return Fail(e, $"open {name}", SqliteCodes.Corrupt);
        }
        catch (IOException e)
        {
            // The replica is there but cannot be read (an unreachable server, a storage error): an I/O
            // error, as a read would give; CANTOPEN stays for "no such replica".
            return Fail(e, $"open {name}", SqliteCodes.IoErr);
        }
        catch (Exception e)
        {
            return Fail(e, $"open {name}", SqliteCodes.CantOpen);
        }
    }

    [UnmanagedCallersOnly]
    private static int Delete(SqliteVfs* vfs, byte* zName, int syncDir)
    {
        if (MemoryMarshal.CreateReadOnlySpanFromNullTerminated(zName).EndsWith("-journal"u8))
        {
            return ((delegate* unmanaged<SqliteVfs*, byte*, int, int>)s_default->Delete)(s_default, JournalPath(zName), syncDir);
        }
        return ((delegate* unmanaged<SqliteVfs*, byte*, int, int>)s_default->Delete)(s_default, zName, syncDir);
    }

    private static string? s_journalDir;
    private static readonly Dictionary<string, IntPtr> s_journals = new(StringComparer.Ordinal);

    /// <summary>
    /// Where the rollback journal of the database <paramref name="zName"/> (its name plus <c>-journal</c>) lives: a file
    /// in this process's temp directory named by a hash of the name (the name is a replica key, not a local path).
    /// A journal left by a killed process is never read back: its transaction's pages were only in the write buffer,
    /// which a new process discards. The path is native memory kept for the process's life: the default VFS keeps
    /// the pointer it opened a file with (to sync its directory, for one).
    /// </summary>
    private static byte* JournalPath(byte* zName)
    {
        ReadOnlySpan<byte> name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(zName);
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(name))[..32];
        lock (s_journals)
        {
            if (!s_journals.TryGetValue(hash, out IntPtr path))
            {
                s_journalDir ??= Directory.CreateTempSubdirectory("litestream-vfs-journal-").FullName;
                // The default VFS gives a journal the mode of its database file (the name without -journal): one must exist.
                System.IO.File.Create(Path.Combine(s_journalDir, hash)).Dispose();
                path = (IntPtr)Utf8(Path.Combine(s_journalDir, hash + "-journal"));
                s_journals[hash] = path;
            }
            return (byte*)path;
        }
    }

    [UnmanagedCallersOnly]
    private static int Access(SqliteVfs* vfs, byte* zName, int flags, int* result)
    {
        // A replica has no journal and no WAL beside it (and must not pick up a local file of that name).
        ReadOnlySpan<byte> name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(zName);
        if (name.EndsWith("-journal"u8) || name.EndsWith("-wal"u8) || name.EndsWith("-shm"u8))
        {
            *result = 0;
            return SqliteCodes.Ok;
        }
        return ((delegate* unmanaged<SqliteVfs*, byte*, int, int*, int>)s_default->Access)(s_default, zName, flags, result);
    }

    [UnmanagedCallersOnly]
    private static int FullPathname(SqliteVfs* vfs, byte* zName, int nOut, byte* zOut)
    {
        // The name is a key (a registered replica name), not a local path: keep it as written.
        ReadOnlySpan<byte> name = MemoryMarshal.CreateReadOnlySpanFromNullTerminated(zName);
        if (name.Length + 1 > nOut)
        {
            return SqliteCodes.CantOpen;
        }
        name.CopyTo(new Span<byte>(zOut, nOut));
        zOut[name.Length] = 0;
        return SqliteCodes.Ok;
    }

    [UnmanagedCallersOnly]
    private static void* DlOpen(SqliteVfs* vfs, byte* path)
        => ((delegate* unmanaged<SqliteVfs*, byte*, void*>)s_default->DlOpen)(s_default, path);

    [UnmanagedCallersOnly]
    private static void DlError(SqliteVfs* vfs, int n, byte* message)
        => ((delegate* unmanaged<SqliteVfs*, int, byte*, void>)s_default->DlError)(s_default, n, message);

    [UnmanagedCallersOnly]
    private static void* DlSym(SqliteVfs* vfs, void* handle, byte* symbol)
        => ((delegate* unmanaged<SqliteVfs*, void*, byte*, void*>)s_default->DlSym)(s_default, handle, symbol);

    [UnmanagedCallersOnly]
    private static void DlClose(SqliteVfs* vfs, void* handle)
        => ((delegate* unmanaged<SqliteVfs*, void*, void>)s_default->DlClose)(s_default, handle);

    [UnmanagedCallersOnly]
    private static int Randomness(SqliteVfs* vfs, int n, byte* output)
        => ((delegate* unmanaged<SqliteVfs*, int, byte*, int>)s_default->Randomness)(s_default, n, output);

    [UnmanagedCallersOnly]
    private static int Sleep(SqliteVfs* vfs, int microseconds)
        => ((delegate* unmanaged<SqliteVfs*, int, int>)s_default->Sleep)(s_default, microseconds);

    [UnmanagedCallersOnly]
    private static int CurrentTime(SqliteVfs* vfs, double* now)
        => ((delegate* unmanaged<SqliteVfs*, double*, int>)s_default->CurrentTime)(s_default, now);

    [UnmanagedCallersOnly]
    private static int GetLastError(SqliteVfs* vfs, int n, byte* message)
        => ((delegate* unmanaged<SqliteVfs*, int, byte*, int>)s_default->GetLastError)(s_default, n, message);

    [UnmanagedCallersOnly]
    private static int CurrentTimeInt64(SqliteVfs* vfs, long* now)
    {
        if (s_default->Version >= 2 && s_default->CurrentTimeInt64 != IntPtr.Zero)
        {
            return ((delegate* unmanaged<SqliteVfs*, long*, int>)s_default->CurrentTimeInt64)(s_default, now);
        }
        // Julian day in milliseconds, as SQLite computes it.
        *now = (long)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 210866760000000L);
        return SqliteCodes.Ok;
    }

    // ---- sqlite3_io_methods ----

    [UnmanagedCallersOnly]
    private static int Close(SqliteFile* file)
    {
        if (file->Handle != IntPtr.Zero)
        {
            // SQLite unlocks before closing; unlocking again releases a hydrated copy's pin all the same.
            VfsFile closing = File(file);
            closing.Unlock(SqliteCodes.LockNone);
            GCHandle.FromIntPtr(file->Handle).Free();
            file->Handle = IntPtr.Zero;
            try
            {
                closing.Replica.FileClosed();
            }
            catch (Exception e)
            {
                return Fail(e, $"close {closing.Replica.Name}", SqliteCodes.IoErr);
            }
        }
        return SqliteCodes.Ok;
    }

    [UnmanagedCallersOnly]
    private static int Read(SqliteFile* file, byte* buffer, int amount, long offset)
    {
        try
        {
            return File(file).Read(new Span<byte>(buffer, amount), offset) ? SqliteCodes.Ok : SqliteCodes.IoErrShortRead;
        }
        catch (Exception e) when (e is LtxFormatException or InvalidDataException)
        {
            return Fail(e, $"read {File(file).Replica.Name} at offset {offset}", SqliteCodes.Corrupt);
        }
        catch (VfsBusyException e)
        {
            // Upstream's answer to a file that vanished for good: the host may retry the transaction.
            return Fail(e, $"read {File(file).Replica.Name} at offset {offset}", SqliteCodes.Busy);
        }
        catch (Exception e)
        {
            return Fail(e, $"read {SafeName(file)} at offset {offset}", SqliteCodes.IoErrRead);
        }
    }

    private static string SafeName(SqliteFile* file)
    {
        try
        {
            return File(file).Replica.Name;
        }
        catch (Exception)
        {
            return "replica";
        }
    }

    [UnmanagedCallersOnly]
    private static int Write(SqliteFile* file, byte* buffer, int amount, long offset)
    {
        try
        {
            File(file).Write(new ReadOnlySpan<byte>(buffer, amount), offset);
            return SqliteCodes.Ok;
        }
        catch (InvalidOperationException)
        {
            return SqliteCodes.ReadOnly;
        }
        catch (Exception e)
        {
            return Fail(e, $"write {SafeName(file)} at offset {offset}", SqliteCodes.IoErrWrite);
        }
    }

    [UnmanagedCallersOnly]
    private static int Truncate(SqliteFile* file, long size)
    {
        try
        {
            File(file).Truncate(size);
            return SqliteCodes.Ok;
        }
        catch (InvalidOperationException)
        {
            return SqliteCodes.ReadOnly;
        }
        catch (Exception e)
        {
            return Fail(e, $"truncate {SafeName(file)}", SqliteCodes.IoErrTruncate);
        }
    }

    [UnmanagedCallersOnly]
    private static int Sync(SqliteFile* file, int flags)
    {
        try
        {
            File(file).Sync();
            return SqliteCodes.Ok;
        }
        catch (Exception e)
        {
            return Fail(e, $"sync {SafeName(file)}", SqliteCodes.IoErrFsync);
        }
    }

    [UnmanagedCallersOnly]
    private static int FileSize(SqliteFile* file, long* size)
    {
        try
        {
            *size = File(file).Size;
            return SqliteCodes.Ok;
        }
        catch (Exception e)
        {
            return Fail(e, "file size", SqliteCodes.IoErr);
        }
    }

    [UnmanagedCallersOnly]
    private static int Lock(SqliteFile* file, int level)
    {
        try
        {
            File(file).Lock(level);
            return SqliteCodes.Ok;
        }
        catch (InvalidOperationException)
        {
            return SqliteCodes.ReadOnly;
        }
        catch (VfsBusyException e)
        {
            // Another writer holds the lease, the replica moved on, or this connection read an older state.
            return Fail(e, "lock", SqliteCodes.Busy);
        }
        catch (Exception e)
        {
            return Fail(e, "lock", SqliteCodes.IoErr);
        }
    }

    [UnmanagedCallersOnly]
    private static int Unlock(SqliteFile* file, int level)
    {
        try
        {
            File(file).Unlock(level);
            return SqliteCodes.Ok;
        }
        catch (Exception e)
        {
            return Fail(e, "unlock", SqliteCodes.IoErr);
        }
    }

    [UnmanagedCallersOnly]
    private static int CheckReservedLock(SqliteFile* file, int* result)
    {
        *result = File(file).Reserved ? 1 : 0;
        return SqliteCodes.Ok;
    }

    [UnmanagedCallersOnly]
    private static int FileControl(SqliteFile* file, int op, void* arg)
    {
        if (op != SqliteCodes.FcntlPragma)
        {
            return SqliteCodes.NotFound;
        }
        // arg is char*[3]: [0] result or error text (sqlite3_malloc'd, SQLite frees it), [1] name, [2] value or NULL.
        var argv = (byte**)arg;
        try
        {
            string name = FromUtf8(argv[1]) ?? "";
            if (!name.StartsWith("litestream_", StringComparison.OrdinalIgnoreCase))
            {
                return SqliteCodes.NotFound;
            }
            int? rc = File(file).Pragma(name, FromUtf8(argv[2]), out string? result);
            if (rc is null)
            {
                return SqliteCodes.NotFound;
            }
            if (result is not null)
            {
                argv[0] = SqliteString(result);
            }
            return rc.Value;
        }
        catch (Exception e)
        {
            argv[0] = SqliteString(e.Message);
            return Fail(e, "pragma", SqliteCodes.Error);
        }
    }

    private static byte* SqliteString(string text)
    {
        int n = Encoding.UTF8.GetByteCount(text);
        byte* p = s_host!.Malloc(n + 1);
        if (p is not null)
        {
            Encoding.UTF8.GetBytes(text, new Span<byte>(p, n));
            p[n] = 0;
        }
        return p;
    }

    [UnmanagedCallersOnly]
    private static int SectorSize(SqliteFile* file) => 4096;

    [UnmanagedCallersOnly]
    private static int DeviceCharacteristics(SqliteFile* file) => 0;
}
