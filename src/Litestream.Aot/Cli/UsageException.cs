namespace Litestream.Aot.Cli;

/// <summary>Bad command-line usage: printed as one <c>error:</c> line and a <c>hint:</c> line, exit code 2.</summary>
public sealed class UsageException(string message, string? hint = null) : Exception(message)
{
    /// <summary>What to try instead.</summary>
    public string? Hint { get; } = hint;
}

/// <summary>
/// A command a signal interrupted, with what that left behind: Program prints
/// <c>error: CMD interrupted by SIGNAL: MESSAGE</c> and exits 128 + the signal's number.
/// </summary>
public sealed class CommandInterruptedException(string message, Exception innerException) : OperationCanceledException(message, innerException)
{
}
