using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Cli;

/// <summary>A minimal, allocation-light logger to stderr: <c>time=… level=… msg=…</c> like upstream's text handler.</summary>
internal sealed class ConsoleLogger(LogLevel minimum) : ILogger
{
    private static readonly Lock s_writeLock = new();

    public LogLevel Minimum { get; } = minimum;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= Minimum && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }
        string level = logLevel switch
        {
            LogLevel.Trace => "TRACE",
            LogLevel.Debug => "DEBUG",
            LogLevel.Information => "INFO",
            LogLevel.Warning => "WARN",
            _ => "ERROR",
        };
        string line = $"time={DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} level={level} msg=\"{formatter(state, exception)}\"";
        lock (s_writeLock)
        {
            ProgressLine.WriteLineAbove(line);
        }
    }

    public static LogLevel ParseLevel(string? text) => text?.ToLowerInvariant() switch
    {
        null or "" or "info" => LogLevel.Information,
        "trace" => LogLevel.Trace,
        "debug" => LogLevel.Debug,
        "warn" or "warning" => LogLevel.Warning,
        "error" => LogLevel.Error,
        _ => throw new UsageException($"invalid log level \"{text}\"", "use one of trace, debug, info, warn, error"),
    };
}
