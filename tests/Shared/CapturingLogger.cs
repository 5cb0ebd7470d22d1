using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Litestream.Testing;

/// <summary>Records every formatted log line the engine writes ("Level: message"), so tests can count what it did.</summary>
public sealed class CapturingLogger : ILoggerProvider, ILogger
{
    private readonly ConcurrentQueue<(LogLevel Level, string Line)> _lines = new();

    /// <summary>Every line so far.</summary>
    public IReadOnlyList<string> Lines => [.. _lines.Select(l => l.Line)];

    /// <summary>The lines at <paramref name="level"/> or above.</summary>
    public IReadOnlyList<string> LinesAtLeast(LogLevel level) => [.. _lines.Where(l => l.Level >= level).Select(l => l.Line)];

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        => _lines.Enqueue((logLevel, $"{logLevel}: {formatter(state, exception)}"));

    public void Dispose()
    {
    }
}
