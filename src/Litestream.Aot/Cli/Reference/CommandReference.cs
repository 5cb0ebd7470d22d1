using System.CommandLine;
using System.CommandLine.Completions;
using System.Globalization;

namespace Litestream.Aot.Cli.Reference;

/// <summary>
/// What the shell completions and the man page know about one command, read from the System.CommandLine tree the
/// exe parses with (hidden commands and options left out), so neither can drift from <c>-h</c>.
/// </summary>
internal sealed record CommandReference(
    string Name, string Description, IReadOnlyList<ArgumentReference> Arguments, IReadOnlyList<OptionReference> Options,
    IReadOnlyList<CommandReference> Subcommands)
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
            [.. command.Subcommands.Where(c => !c.Hidden).Select(c => From(c, recursive))]);
    }

    /// <summary>Whether a value or argument name (<c>PATH</c>, <c>DB_PATH|REPLICA_URL</c>) stands for a file.</summary>
    public static bool NamesPath(string name) => name.Contains("PATH", StringComparison.Ordinal);

    /// <summary>The arguments as <c>-h</c> shows them: <c>DB_PATH|REPLICA_URL</c>, optional ones in brackets.</summary>
    public string ArgumentSynopsis => string.Join(' ', Arguments.Select(a => a.Synopsis));
}

/// <summary>
/// One option: <see cref="Flag"/> is upstream's single-dash spelling (<c>-txid</c>, <c>-h</c>), <see cref="LongFlag"/>
/// the <c>--txid</c> form every option also answers to; <see cref="ValueName"/> is null for a switch.
/// </summary>
internal sealed record OptionReference(string Flag, string LongFlag, string Description, string? ValueName, IReadOnlyList<string> Values, string? DefaultValue)
{
    public bool TakesValue => ValueName is not null;

    /// <summary>The value is a file (<c>-o PATH</c>, <c>-config PATH</c>): shells complete file names there.</summary>
    public bool TakesPath => ValueName is not null && CommandReference.NamesPath(ValueName);

    public static OptionReference From(Option option)
    {
        string longFlag = option.Name.StartsWith("--", StringComparison.Ordinal) ? option.Name
            : option.Aliases.FirstOrDefault(a => a.StartsWith("--", StringComparison.Ordinal)) ?? option.Name;
        // The help option's aliases are -h, /h, -? and /?: the flag is the first single-dash one that is a word.
        string flag = option.Aliases.Where(a => a.Length > 1 && a[0] == '-' && a[1] != '-' && char.IsLetterOrDigit(a[1])).FirstOrDefault() ?? longFlag;
        bool takesValue = option.Arity.MinimumNumberOfValues > 0;
        string? valueName = takesValue ? option.HelpName ?? longFlag.TrimStart('-').ToUpperInvariant() : null;
        IReadOnlyList<string> values = takesValue ? [.. option.GetCompletions(CompletionContext.Empty).Select(c => c.Label)] : [];
        string? defaultValue = takesValue && option.HasDefaultValue ? Convert.ToString(option.GetDefaultValue(), CultureInfo.InvariantCulture) : null;
        return new OptionReference(flag, longFlag, option.Description ?? "", valueName, values, defaultValue);
    }
}

/// <summary>One positional argument; <see cref="Values"/> are its fixed choices (<c>bash zsh fish</c>), if any.</summary>
internal sealed record ArgumentReference(string Name, string Description, IReadOnlyList<string> Values, bool Optional, bool Repeats)
{
    public bool TakesPath => CommandReference.NamesPath(Name);

    public string Synopsis => (Optional, Repeats) switch
    {
        (false, false) => Name,
        (false, true) => Name + "...",
        (true, false) => $"[{Name}]",
        (true, true) => $"[{Name}...]",
    };

    public static ArgumentReference From(Argument argument) => new(
        argument.HelpName ?? argument.Name.ToUpperInvariant(),
        argument.Description ?? "",
        [.. argument.GetCompletions(CompletionContext.Empty).Select(c => c.Label)],
        argument.Arity.MinimumNumberOfValues == 0,
        argument.Arity.MaximumNumberOfValues > 1);
}
