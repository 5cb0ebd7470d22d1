using System.CommandLine;

namespace Litestream.Aot.Cli;

/// <summary>
/// A command with upstream's kind of usage text: its <see cref="Symbol.Description"/> stays the one-line summary the
/// command list, completions and man page headings show, and <c>-h</c> shows <see cref="About"/> (one paragraph)
/// and <see cref="Examples"/> around the flags (<see cref="DocumentedHelpAction"/>). The man page prints both too.
/// </summary>
internal sealed class DocumentedCommand(string name, string summary, string about, params Example[] examples) : Command(name, summary)
{
    /// <summary>What the command does, when to use it and what it leaves behind: one paragraph, plain sentences.</summary>
    public string About { get; } = about;

    /// <summary>Two or three command lines a user would type, each with what it does.</summary>
    public IReadOnlyList<Example> Examples { get; } = examples;
}

/// <summary>One example of a <see cref="DocumentedCommand"/>: what it does, and the command line.</summary>
internal readonly record struct Example(string What, string CommandLine);
