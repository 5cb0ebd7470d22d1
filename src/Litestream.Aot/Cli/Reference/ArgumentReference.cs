using System.CommandLine;
using System.CommandLine.Completions;

namespace Litestream.Aot.Cli.Reference;

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
