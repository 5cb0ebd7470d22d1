using System.CommandLine;

namespace Litestream.Aot.Cli.Reference;

/// <summary>
/// <c>litestream man</c> (hidden): prints <c>litestream.1</c>. A command of the exe rather than a separate build tool,
/// because the page must describe the tree of the binary it ships with: deploy/package.sh runs the binary it packages,
/// and no second program has to load the CLI's internals to see that tree.
/// </summary>
internal static class ManCommand
{
    public static Command Build()
    {
        var command = new Command("man", "print the man page (roff)") { Hidden = true };
        command.SetAction(result =>
        {
            Console.Out.Write(ManPage.Write(CommandReference.From(result.RootCommandResult.Command)));
            return Program.ExitOk;
        });
        return command;
    }
}
