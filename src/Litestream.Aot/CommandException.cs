namespace Litestream.Aot;

/// <summary>
/// A runtime failure with a hint for the user: one <c>error:</c> line, one <c>hint:</c> line, exit code 1. Thrown by
/// commands and by what they start (the control socket, listeners, config checks).
/// </summary>
public sealed class CommandException(string message, string? hint = null) : Exception(message)
{
    /// <summary>What to try instead.</summary>
    public string? Hint { get; } = hint;
}
