using System.Diagnostics;
using System.Globalization;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary>
/// A progress line on stderr for long work (restore, <c>replicate -once</c>): bytes done of the total, files, rate
/// and ETA (and databases done of several restored at once), redrawn in place four times a second and erased at the
/// end, so the command's own lines stand alone. Follow mode draws a status of its own through the same line.
/// Only when stderr is a terminal: a log file, a pipe or an MCP tool call gets nothing extra (<see cref="Start"/>
/// returns null), and stdout (<c>-json</c>) is never written.
/// </summary>
internal sealed class ProgressLine : ITransferProgress, IDisposable
{
    private static readonly TimeSpan s_redraw = TimeSpan.FromMilliseconds(250);
    private static ProgressLine? s_current;

    private readonly string _verb;
    private readonly TextWriter _terminal;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly Timer _timer;
    private readonly Lock _lock = new();
    private readonly Func<string>? _status;
    private long _bytes;
    private long _totalBytes;
    private int _files;
    private int _totalFiles;
    private int _databases;
    private int _totalDatabases;
    private long _lastDraw;
    private bool _drawn;
    private bool _disposed;

    private ProgressLine(string verb, TextWriter terminal, long totalBytes, int totalFiles, Func<string>? status = null)
    {
        _verb = verb;
        _status = status;
        _terminal = terminal;
        _totalBytes = totalBytes;
        _totalFiles = totalFiles;
        // Drawn at once (the totals, 0 %), then every tick: even a short run shows what it is doing.
        _timer = new Timer(_ => Draw(), null, TimeSpan.Zero, s_redraw);
        s_current = this;
    }

    /// <summary>
    /// A progress line for <paramref name="verb"/> ("restoring") of <paramref name="totalBytes"/> in
    /// <paramref name="totalFiles"/> (0: not known yet, see <see cref="AddTotal"/>); null when stderr is not a terminal.
    /// </summary>
    public static ProgressLine? Start(string verb, long totalBytes = 0, int totalFiles = 0)
        => Console.IsErrorRedirected ? null : new ProgressLine(verb, Console.Error, totalBytes, totalFiles);

    /// <summary>
    /// A line that shows <paramref name="verb"/> and what <paramref name="status"/> says at each redraw (follow mode's
    /// TXID and files applied) instead of a transfer; null when stderr is not a terminal.
    /// </summary>
    public static ProgressLine? StartStatus(string verb, Func<string> status)
        => Console.IsErrorRedirected ? null : new ProgressLine(verb, Console.Error, 0, 0, status);

    /// <summary>For tests: a progress line drawn to <paramref name="terminal"/>.</summary>
    internal static ProgressLine StartOn(string verb, TextWriter terminal, Func<string>? status = null) => new(verb, terminal, 0, 0, status);

    /// <summary>Several databases restored at once (<c>restore DIR</c>): the line counts them done of <paramref name="total"/>.</summary>
    public void CountDatabases(int total) => Interlocked.Add(ref _totalDatabases, total);

    /// <summary>One of the databases counted by <see cref="CountDatabases"/> is done (restored or failed).</summary>
    public void DatabaseDone() => Interlocked.Increment(ref _databases);

    /// <summary>Adds to the known total: bytes and files still to come.</summary>
    public void AddTotal(long bytes, int files)
    {
        Interlocked.Add(ref _totalBytes, bytes);
        Interlocked.Add(ref _totalFiles, files);
    }

    /// <summary>Bytes moved (downloaded or uploaded).</summary>
    public void AddBytes(long bytes) => Interlocked.Add(ref _bytes, bytes);

    /// <summary>
    /// One more file begun. The first is drawn at once, so a file that takes less than a tick still shows; later ones
    /// at most every 50 ms (thousands of small files would otherwise flood the terminal).
    /// </summary>
    public void AddFile()
    {
        if (Interlocked.Increment(ref _files) == 1 || Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastDraw)) >= TimeSpan.FromMilliseconds(50))
        {
            Draw();
        }
    }

    /// <summary>
    /// Writes <paramref name="line"/> to stderr (a log line during long work): above the progress line, which is
    /// erased first and redrawn at the next tick, so the two never share a line.
    /// </summary>
    public static void WriteLineAbove(string line)
    {
        ProgressLine? current = Volatile.Read(ref s_current);
        if (current is null)
        {
            Console.Error.WriteLine(line);
            return;
        }
        lock (current._lock)
        {
            if (current._drawn && !current._disposed)
            {
                current._terminal.Write("\r\x1b[K");
                current._drawn = false;
            }
            Console.Error.WriteLine(line);
        }
    }

    /// <summary>Erases the line: what the command prints next starts at the left margin.</summary>
    public void Dispose()
    {
        Interlocked.CompareExchange(ref s_current, null, this);
        _timer.Dispose();
        lock (_lock)
        {
            _disposed = true;
            if (_drawn)
            {
                _terminal.Write("\r\x1b[K");
                _terminal.Flush();
                _drawn = false;
            }
        }
    }

    /// <summary>The text of the line (without the carriage return and erase that draw it).</summary>
    internal string Render(TimeSpan elapsed)
    {
        if (_status is not null)
        {
            return $"{_verb}: {_status()}";
        }
        long bytes = Interlocked.Read(ref _bytes), total = Interlocked.Read(ref _totalBytes);
        int files = Volatile.Read(ref _files), totalFiles = Volatile.Read(ref _totalFiles);
        bytes = total > 0 ? Math.Min(bytes, total) : bytes;
        double rate = elapsed.TotalSeconds > 0 ? bytes / elapsed.TotalSeconds : 0;
        string done = total > 0
            ? $"{Size(bytes)} / {Size(total)} ({(100 * bytes / total).ToString(CultureInfo.InvariantCulture)}%)"
            : Size(bytes);
        string fileCount = totalFiles > 0 ? $"file {Math.Min(files, totalFiles)}/{totalFiles}" : $"{files} file(s)";
        string eta = total > 0 && rate > 0 && bytes < total ? $", ETA {GoDuration.Format(TimeSpan.FromSeconds(Math.Ceiling((total - bytes) / rate)))}" : "";
        int totalDatabases = Volatile.Read(ref _totalDatabases);
        string databases = totalDatabases > 0 ? $"{Math.Min(Volatile.Read(ref _databases), totalDatabases)}/{totalDatabases} databases, " : "";
        return $"{_verb}: {databases}{done}, {fileCount}, {Size((long)rate)}/s{eta}";
    }

    /// <summary>Bytes in binary units, one decimal: 512 B, 1.5 KiB, 12.3 MiB.</summary>
    internal static string Size(long bytes)
    {
        if (bytes < 1024)
        {
            return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        }
        string[] units = ["KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return value.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[unit];
    }

    private void Draw()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _terminal.Write("\r" + Render(Stopwatch.GetElapsedTime(_started)) + "\x1b[K");
            _terminal.Flush();
            _drawn = true;
            Interlocked.Exchange(ref _lastDraw, Stopwatch.GetTimestamp());
        }
    }
}
