using Microsoft.Extensions.Logging;

namespace Litestream.Tests.Fixtures;

/// <summary>Collects the engine's warnings and errors as "Level message" lines.</summary>
internal sealed class ListLogger : ILogger
{
    public List<string> Lines { get; } = [];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            lock (Lines)
            {
                Lines.Add($"{logLevel} {formatter(state, exception)}");
            }
        }
    }
}
