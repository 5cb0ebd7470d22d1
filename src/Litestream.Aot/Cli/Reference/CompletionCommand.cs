using System.CommandLine;

namespace Litestream.Aot.Cli.Reference;

/// <summary>
/// <c>litestream completion bash|zsh|fish</c>: prints the shell's completion script, written from the command tree
/// this exe parses with, so a new command or flag completes without anyone editing a list.
/// </summary>
internal static class CompletionCommand
{
    private static readonly string[] s_shells = ["bash", "zsh", "fish"];

    public static Command Build()
    {
        Argument<string> shell = new("shell") { Description = "bash, zsh or fish", HelpName = "SHELL" };
        shell.CompletionSources.Add(s_shells);
        var command = new Command("completion", "print the shell completion script: source <(litestream completion bash)") { shell };
        command.SetAction(result =>
        {
            CommandReference root = CommandReference.From(result.RootCommandResult.Command);
            Console.Out.Write(result.GetValue(shell) switch
            {
                "bash" => BashCompletion.Write(root),
                "zsh" => ZshCompletion.Write(root),
                "fish" => FishCompletion.Write(root),
                string other => throw new UsageException($"unsupported shell \"{other}\"", "use bash, zsh or fish"),
                null => throw new UsageException("missing argument SHELL", "use bash, zsh or fish"),
            });
            return Program.ExitOk;
        });
        return command;
    }
}
