using System.Runtime.InteropServices;

namespace Litestream.Vfs.Native;

/// <summary>sqlite3_vfs, version 2 (sqlite3.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SqliteVfs
{
    public int Version;
    public int SizeOfFile;
    public int MaxPathname;
    public SqliteVfs* Next;
    public byte* Name;
    public void* AppData;
    public IntPtr Open;
    public IntPtr Delete;
    public IntPtr Access;
    public IntPtr FullPathname;
    public IntPtr DlOpen;
    public IntPtr DlError;
    public IntPtr DlSym;
    public IntPtr DlClose;
    public IntPtr Randomness;
    public IntPtr Sleep;
    public IntPtr CurrentTime;
    public IntPtr GetLastError;
    public IntPtr CurrentTimeInt64;
}

/// <summary>sqlite3_io_methods, version 1 (no shared memory: the replica is WAL-less; no mmap).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SqliteIoMethods
{
    public int Version;
    public IntPtr Close;
    public IntPtr Read;
    public IntPtr Write;
    public IntPtr Truncate;
    public IntPtr Sync;
    public IntPtr FileSize;
    public IntPtr Lock;
    public IntPtr Unlock;
    public IntPtr CheckReservedLock;
    public IntPtr FileControl;
    public IntPtr SectorSize;
    public IntPtr DeviceCharacteristics;
}

/// <summary>Our sqlite3_file subclass: the methods pointer SQLite requires, then a GC handle to the <see cref="VfsFile"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct SqliteFile
{
    public IntPtr Methods;
    public IntPtr Handle;
}

/// <summary>SQLite result codes and flags used by the VFS.</summary>
internal static class SqliteCodes
{
    public const int Ok = 0;
    public const int Error = 1;
    public const int Busy = 5;
    public const int ReadOnly = 8;
    public const int IoErr = 10;
    public const int Corrupt = 11;
    public const int NotFound = 12;
    public const int CantOpen = 14;
    public const int Misuse = 21;
    public const int IoErrRead = IoErr | (1 << 8);
    public const int IoErrShortRead = IoErr | (2 << 8);
    public const int IoErrWrite = IoErr | (3 << 8);
    public const int IoErrFsync = IoErr | (4 << 8);
    public const int IoErrTruncate = IoErr | (6 << 8);

    public const int OpenReadOnly = 0x1;
    public const int OpenReadWrite = 0x2;
    public const int OpenCreate = 0x4;
    public const int OpenMainDb = 0x100;
    public const int OpenMainJournal = 0x800;

    public const int LockNone = 0;
    public const int LockShared = 1;
    public const int LockReserved = 2;

    public const int FcntlPragma = 14;
}
