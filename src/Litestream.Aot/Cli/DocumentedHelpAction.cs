using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Text;

namespace Litestream.Aot.Cli;

/// <summary>
/// <c>-h</c> of a <see cref="DocumentedCommand"/>: System.CommandLine's own layout with the paragraph (wrapped, as the
/// layout does not wrap text it writes to a pipe) in place of the one-line summary, then "Examples:". Every other
/// command gets the standard help. (System.CommandLine 2.0 keeps its layout internal; wrapping its action is the
/// supported way to add sections.)
/// </summary>
internal sealed class DocumentedHelpAction(HelpAction standard) : SynchronousCommandLineAction
{
    /// <summary>Column the paragraph wraps at, as upstream's usage texts do.</summary>
    public const int Width = 80;

    /// <summary>The standard layout indents every line of a section by two columns.</summary>
    private const int Indent = 2;

    /// <summary>As the standard help: <c>restore -h</c> is help, not a missing argument.</summary>
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        if (parseResult.CommandResult.Command is not DocumentedCommand command)
        {
            return standard.Invoke(parseResult);
        }
        TextWriter output = parseResult.InvocationConfiguration.Output;
        // The standard layout opens with the one-line summary; the paragraph replaces it there.
        string? summary = command.Description;
        command.Description = Wrap(command.About, Width - Indent);
        try
        {
            standard.Invoke(parseResult);
        }
        finally
        {
            command.Description = summary;
        }
        output.Write("Examples:\n");
        foreach (Example example in command.Examples)
        {
            output.Write($"  # {example.What}\n  {example.CommandLine}\n\n");
        }
        return 0;
    }

    /// <summary><paramref name="text"/> broken at spaces into lines of at most <paramref name="width"/> columns.</summary>
    public static string Wrap(string text, int width)
    {
        var lines = new StringBuilder();
        var line = new StringBuilder();
        foreach (string word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width)
            {
                lines.Append(line).Append('\n');
                line.Clear();
            }
            line.Append(line.Length > 0 ? " " : "").Append(word);
        }
        return lines.Append(line).ToString();
    }
}
