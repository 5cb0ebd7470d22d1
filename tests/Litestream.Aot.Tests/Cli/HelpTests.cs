using System.CommandLine;
using Litestream.Aot.Cli;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Issue 18 item 8: every command's <c>-h</c> has a paragraph and two or three examples, as upstream's usage texts
/// do, and every example is a command line the parser accepts (in process; the man page and completions come from
/// the same tree and are tested through the exe).
/// </summary>
public class HelpTests
{
    private static readonly RootCommand s_root = Program.BuildRoot();

    public static TheoryData<string> Commands => [.. Program.BuildRoot().Subcommands.Where(c => !c.Hidden).Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_EveryCommand_ParagraphUsageFlagsThenExamples(string name)
    {
        DocumentedCommand command = Assert.IsType<DocumentedCommand>(s_root.Subcommands.Single(c => c.Name == name));
        Assert.InRange(command.Examples.Count, 2, 3);
        Assert.True(command.About.Length > 120 && command.About.EndsWith('.'), $"{name}: the paragraph is a few sentences");
        string help = Help(name, "-h");
        Assert.StartsWith($"Description:\n  {DocumentedHelpAction.Wrap(command.About, 78).Replace("\n", "\n  ", StringComparison.Ordinal)}\n\nUsage:\n  {s_root.Name} {name} ", help);
        Assert.All(help[..help.IndexOf("\n\nUsage:", StringComparison.Ordinal)].Split('\n'), line => Assert.True(line.Length <= DocumentedHelpAction.Width, line));
        Assert.Contains("\nOptions:\n", help);
        Assert.EndsWith("\n\nExamples:\n" + string.Concat(command.Examples.Select(e => $"  # {e.What}\n  {e.CommandLine}\n\n")), help);
        // The one-line summary stays what the command list shows.
        Assert.Contains($"\n  {name} ", Help("-h"));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_EveryExample_ParsesWithoutAUsageError(string name)
    {
        var command = (DocumentedCommand)s_root.Subcommands.Single(c => c.Name == name);
        foreach (Example example in command.Examples)
        {
            // The litestream part of the line: after "<(" of a process substitution, up to a pipe or redirection.
            string line = example.CommandLine[example.CommandLine.IndexOf("litestream ", StringComparison.Ordinal)..];
            string[] args = [.. line["litestream ".Length..].Split(' ').TakeWhile(word => word is not ("|" or ">")).Select(word => word.TrimEnd(')'))];
            Assert.Null(UsageErrors.Find(s_root.Parse(args)));
        }
    }

    [Fact]
    public void Help_Databases_ExactText()
    {
        Assert.Equal($$"""
            Description:
              Lists the databases the config file names and where each is replicated: a file
              replica by its absolute directory (relative paths in a config resolve against
              the config file's directory), any other replica by its URL. It reads only the
              config; use status for the state of each database.

            Usage:
              {{s_root.Name}} databases [options]

            Options:
              -json           print JSON
              -config <PATH>  config file; "-" reads it from standard input (default $LITESTREAM_CONFIG or /etc/litestream.yml)
              -no-expand-env  do not expand $VAR / ${VAR} in the config file
              -?, -h, --help  Show help and usage information

            Examples:
              # list the databases of /etc/litestream.yml
              litestream databases

              # list another config's databases as JSON
              litestream databases -json -config examples/litestream.yml


            """, Help("databases", "-h"));
    }

    private static string Help(params string[] args)
    {
        var output = new StringWriter { NewLine = "\n" };
        s_root.Parse(args).Invoke(new InvocationConfiguration { Output = output });
        return output.ToString();
    }
}
