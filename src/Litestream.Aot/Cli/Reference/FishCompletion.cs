using System.Text;

namespace Litestream.Aot.Cli.Reference;

/// <summary>
/// <c>litestream completion fish</c>: one <c>complete</c> line per command and per flag of the command tree. Fish
/// spells upstream's single-dash flags as old-style options (<c>-o txid</c>) and one-letter ones as short options.
/// </summary>
internal static class FishCompletion
{
    public static string Write(CommandReference root)
    {
        var s = new StringBuilder(CompletionCommand.Header("fish", "`litestream completion fish | source`, or install it as ~/.config/fish/completions/litestream.fish"));
        string names = string.Join(' ', root.Subcommands.Select(c => c.Name));
        string atRoot = ShellQuoting.Fish($"not __fish_seen_subcommand_from {names}");
        s.Append($"complete -c litestream -n {atRoot} -f\n");
        foreach (CommandReference command in root.Subcommands)
        {
            s.Append($"complete -c litestream -n {atRoot} -a {ShellQuoting.Fish(command.Name)} -d {ShellQuoting.Fish(command.Description)}\n");
        }
        WriteOptions(s, root, atRoot);
        foreach (CommandReference command in root.Subcommands)
        {
            string inCommand = ShellQuoting.Fish($"__fish_seen_subcommand_from {command.Name}");
            WriteOptions(s, command, inCommand);
            foreach (ArgumentReference argument in command.Arguments.Where(a => a.Values.Count > 0))
            {
                s.Append($"complete -c litestream -n {inCommand} -f -a {ShellQuoting.Fish(string.Join(' ', argument.Values))} -d {ShellQuoting.Fish(argument.Description)}\n");
            }
        }
        return s.ToString();
    }

    private static void WriteOptions(StringBuilder s, CommandReference command, string condition)
    {
        foreach (OptionReference option in command.Options)
        {
            string name = option.Flag.TrimStart('-');
            s.Append($"complete -c litestream -n {condition} ");
            if (option.Flag != option.LongFlag)
            {
                s.Append(name.Length == 1 ? "-s " : "-o ").Append(name).Append(' ');
            }
            s.Append("-l ").Append(option.LongFlag[2..]);
            // -r: a value follows; -F: it is a file name; -x (= -r -f): a value, but not a file name.
            s.Append(!option.TakesValue ? "" : option.TakesPath ? " -r -F" : " -x");
            if (option.Values.Count > 0)
            {
                s.Append(" -a ").Append(ShellQuoting.Fish(string.Join(' ', option.Values)));
            }
            s.Append(" -d ").Append(ShellQuoting.Fish(option.Description)).Append('\n');
        }
    }
}
