namespace Litestream.Aot.Cli;

/// <summary>Bad command-line usage: printed as one <c>error:</c> line and a <c>hint:</c> line, exit code 2.</summary>
public sealed class UsageException(string message, string? hint = null) : Exception(message)
{
    /// <summary>What to try instead.</summary>
    public string? Hint { get; } = hint;
}

/// <summary>A runtime failure with a hint for the user: one <c>error:</c> line, one <c>hint:</c> line, exit code 1.</summary>
public sealed class CommandException(string message, string? hint = null) : Exception(message)
{
    /// <summary>What to try instead.</summary>
    public string? Hint { get; } = hint;
}
