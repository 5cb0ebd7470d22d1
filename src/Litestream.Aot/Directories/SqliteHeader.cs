using Microsoft.Win32.SafeHandles;

namespace Litestream.Aot.Directories;

/// <summary>What the start of a file says about it (upstream <c>IsSQLiteDatabase</c>, with the cases it folds into false kept apart).</summary>
internal enum SqliteFileKind
{
    /// <summary>Starts with the SQLite header.</summary>
    Database,
    /// <summary>Empty: SQLite creates the file before it writes page 1, so it may become a database.</summary>
    Empty,
    /// <summary>Has bytes that are not the SQLite header, or is not a regular file.</summary>
    NotDatabase,
    /// <summary>Does not exist (any more).</summary>
    Missing,
    /// <summary>Could not be read (permissions, I/O).</summary>
    Unreadable,
}

/// <summary>The one place that reads the 16-byte SQLite header to tell a database from any other file.</summary>
internal static class SqliteHeader
{
    private static ReadOnlySpan<byte> Magic => "SQLite format 3\0"u8;

    public static SqliteFileKind Probe(string path, out string? error)
    {
        error = null;
        if (FileKind.NonRegular(path) is { } kind)
        {
            error = $"a {kind}, not a regular file";
            return SqliteFileKind.NotDatabase;
        }
        Span<byte> header = stackalloc byte[Magic.Length];
        int read;
        try
        {
            using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            read = RandomAccess.Read(file, header, 0);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return SqliteFileKind.Missing;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = e.Message;
            return SqliteFileKind.Unreadable;
        }
        return read == 0 ? SqliteFileKind.Empty
            : read == Magic.Length && header.SequenceEqual(Magic) ? SqliteFileKind.Database
            : SqliteFileKind.NotDatabase;
    }
}
