using System.CommandLine;

namespace Litestream.Aot.Cli.Reference;

/// <summary>
/// What the shell completions and the man page know about one command, read from the System.CommandLine tree the
/// exe parses with (hidden commands and options left out), so neither can drift from <c>-h</c>.
/// </summary>
internal sealed record CommandReference(
    string Name, string Description, IReadOnlyList<ArgumentReference> Arguments, IReadOnlyList<OptionReference> Options,
    IReadOnlyList<CommandReference> Subcommands, string? About = null, IReadOnlyList<Example>? Examples = null)
{
    public static CommandReference From(Command command) => From(command, inherited: []);

    /// <summary><paramref name="inherited"/>: the recursive options of the commands above (-h, --help).</summary>
    private static CommandReference From(Command command, IReadOnlyList<Option> inherited)
    {
        List<Option> options = [.. command.Options.Where(o => !o.Hidden), .. inherited.Where(o => !command.Options.Contains(o))];
        List<Option> recursive = [.. options.Where(o => o.Recursive)];
        return new CommandReference(
            command.Name,
            command.Description ?? "",
            [.. command.Arguments.Where(a => !a.Hidden).Select(ArgumentReference.From)],
            [.. options.Select(OptionReference.From)],
            [.. command.Subcommands.Where(c => !c.Hidden).Select(c => From(c, recursive))],
            (command as DocumentedCommand)?.About,
            (command as DocumentedCommand)?.Examples);
    }

    /// <summary>Whether a value or argument name (<c>PATH</c>, <c>DB_PATH|REPLICA_URL</c>) stands for a file.</summary>
    public static bool NamesPath(string name) => name.Contains("PATH", StringComparison.Ordinal);

    /// <summary>The arguments as <c>-h</c> shows them: <c>DB_PATH|REPLICA_URL</c>, optional ones in brackets.</summary>
    public string ArgumentSynopsis => string.Join(' ', Arguments.Select(a => a.Synopsis));
}
