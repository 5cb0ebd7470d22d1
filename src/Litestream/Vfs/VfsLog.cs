namespace Litestream.Vfs;

/// <summary>
/// The VFS's log: lines on stderr at or above <c>LITESTREAM_LOG_LEVEL</c> (debug, info, warn, error; default
/// warn), errors also through the host's <c>sqlite3_log</c> so a SQLite error log callback sees the text
/// behind an SQLITE_IOERR / SQLITE_CORRUPT.
/// </summary>
internal static class VfsLog
{
    public enum Level
    {
        Debug,
        Info,
        Warn,
        Error,
    }

    private static readonly Level s_minimum = Parse(Environment.GetEnvironmentVariable("LITESTREAM_LOG_LEVEL"));

    /// <summary>The host's sqlite3_log, once a VFS is registered.</summary>
    public static Action<int, string>? SqliteLog { get; set; }

    public static void Write(Level level, string message, int sqliteCode = 0)
    {
        if (sqliteCode != 0)
        {
            try
            {
                SqliteLog?.Invoke(sqliteCode, "litestream: " + message);
            }
            catch (Exception)
            {
                // Logging must never take the host down.
            }
        }
        if (level >= s_minimum)
        {
            try
            {
                Console.Error.WriteLine($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {level.ToString().ToUpperInvariant()} litestream-vfs: {message}");
            }
            catch (IOException)
            {
            }
        }
    }

    private static Level Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        "trace" or "debug" => Level.Debug,
        "info" => Level.Info,
        "error" => Level.Error,
        _ => Level.Warn,
    };
}
