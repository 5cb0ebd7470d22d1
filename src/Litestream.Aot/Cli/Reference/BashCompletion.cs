using System.Text;

namespace Litestream.Aot.Cli.Reference;

/// <summary>
/// <c>litestream completion bash</c>: one <c>complete -F</c> function whose word lists come from the command tree.
/// A flag's value, a database path or anything else without fixed choices gets nothing from the function, so
/// <c>-o default</c> hands it to readline's own file-name completion (directories, quoting and all).
/// </summary>
internal static class BashCompletion
{
    public static string Write(CommandReference root)
    {
        var s = new StringBuilder(CompletionCommand.Header("bash", "`source <(litestream completion bash)`, or install it as /usr/share/bash-completion/completions/litestream"));
        s.Append("""
            _litestream() {
              local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} command= i
              for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                  -*) ;;
                  *) command=${COMP_WORDS[i]}; break ;;
                esac
              done
              local words= flags= long_flags=
              case $command in

            """);
        WriteCase(s, "''", root, root.Subcommands.Select(c => c.Name));
        foreach (CommandReference command in root.Subcommands)
        {
            WriteCase(s, ShellQuoting.Posix(command.Name), command, command.Arguments.SelectMany(a => a.Values));
        }
        s.Append("""
              esac
              case $cur in
                --*) COMPREPLY=($(compgen -W "$long_flags" -- "$cur")) ;;
                -*) COMPREPLY=($(compgen -W "$flags" -- "$cur")) ;;
                *) COMPREPLY=($(compgen -W "$words" -- "$cur")) ;;
              esac
            }
            complete -o default -F _litestream litestream

            """);
        return s.ToString();
    }

    private static void WriteCase(StringBuilder s, string pattern, CommandReference command, IEnumerable<string> words)
    {
        s.Append($"    {pattern})\n");
        List<OptionReference> valued = [.. command.Options.Where(o => o.TakesValue)];
        if (valued.Count > 0)
        {
            // After a flag that takes a value, offer its choices, or nothing (file names through -o default).
            s.Append("      case $prev in\n");
            foreach (OptionReference option in valued.Where(o => o.Values.Count > 0))
            {
                s.Append($"        {option.Flag}|{option.LongFlag}) COMPREPLY=($(compgen -W {ShellQuoting.Posix(string.Join(' ', option.Values))} -- \"$cur\")); return ;;\n");
            }
            if (valued.Where(o => o.Values.Count == 0).Select(o => $"{o.Flag}|{o.LongFlag}").ToList() is { Count: > 0 } free)
            {
                s.Append($"        {string.Join('|', free)}) return ;;\n");
            }
            s.Append("      esac\n");
        }
        s.Append($"      words={ShellQuoting.Posix(string.Join(' ', words))}\n");
        s.Append($"      flags={ShellQuoting.Posix(string.Join(' ', command.Options.Select(o => o.Flag)))}\n");
        s.Append($"      long_flags={ShellQuoting.Posix(string.Join(' ', command.Options.Select(o => o.LongFlag)))} ;;\n");
    }
}
