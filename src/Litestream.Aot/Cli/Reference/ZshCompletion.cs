using System.Text;

namespace Litestream.Aot.Cli.Reference;

/// <summary>
/// <c>litestream completion zsh</c>: an <c>_arguments</c> spec per command from the command tree, each flag with its
/// description, both spellings (<c>-txid</c>, <c>--txid</c>) as one mutually exclusive pair, and its value: fixed
/// choices, file names for a <c>PATH</c>, or just the value's name as a hint.
/// </summary>
internal static class ZshCompletion
{
    public static string Write(CommandReference root)
    {
        var s = new StringBuilder("#compdef litestream\n");
        s.Append(CompletionCommand.Header("zsh", "`source <(litestream completion zsh)`, or install it as _litestream in a directory of $fpath"));
        s.Append("""
            _litestream() {
              local -a commands
              commands=(

            """);
        foreach (CommandReference command in root.Subcommands)
        {
            s.Append($"    {ShellQuoting.Posix(Escape(command.Name, ":") + ":" + command.Description)}\n");
        }
        s.Append("""
              )
              local i command=
              for ((i = 2; i < CURRENT; i++)); do
                if [[ $words[i] != -* ]]; then command=$words[i]; break; fi
              done
              if [[ -z $command ]]; then
                if [[ $PREFIX == -* ]]; then
                  _arguments \

            """);
        WriteSpecs(s, root, indent: "        ");
        s.Append("""
                else
                  _describe -t commands 'litestream command' commands
                fi
                return
              fi
              words=("${(@)words[i,-1]}")
              (( CURRENT -= i - 1 ))
              case $command in

            """);
        foreach (CommandReference command in root.Subcommands)
        {
            s.Append($"    {ShellQuoting.Posix(command.Name)})\n      _arguments \\\n");
            WriteSpecs(s, command, indent: "        ");
            s.Append("      ;;\n");
        }
        s.Append("""
              esac
            }
            if [[ $funcstack[1] == _litestream ]]; then _litestream "$@"; else compdef _litestream litestream; fi

            """);
        return s.ToString();
    }

    /// <summary>The <c>_arguments</c> specs of one command, one per line, continued with backslashes.</summary>
    private static void WriteSpecs(StringBuilder s, CommandReference command, string indent)
    {
        var specs = new List<string>();
        foreach (OptionReference option in command.Options)
        {
            string description = "[" + Escape(option.Description, "[]") + "]";
            string value = option.TakesValue ? ":" + Escape(option.ValueName!, ":") + ":" + ValueAction(option.Values, option.TakesPath) : "";
            specs.Add(option.Flag == option.LongFlag
                ? ShellQuoting.Posix(option.Flag + description + value)
                : ShellQuoting.Posix($"({option.Flag} {option.LongFlag})") + "{" + option.Flag + "," + option.LongFlag + "}" + ShellQuoting.Posix(description + value));
        }
        foreach (ArgumentReference argument in command.Arguments)
        {
            string position = argument.Repeats ? "*:" : argument.Optional ? "::" : ":";
            specs.Add(ShellQuoting.Posix(position + Escape(argument.Name, ":") + ":" + ValueAction(argument.Values, argument.TakesPath)));
        }
        s.Append(string.Join(" \\\n", specs.Select(spec => indent + spec))).Append('\n');
    }

    /// <summary>Fixed choices, file names for a path, else a space: zsh shows the value's name and completes nothing.</summary>
    private static string ValueAction(IReadOnlyList<string> values, bool path)
        => values.Count > 0 ? "(" + string.Join(' ', values) + ")"
            : path ? "_files"
            : " ";

    /// <summary>Backslash-escapes the characters that end a field of an <c>_arguments</c> spec.</summary>
    private static string Escape(string text, string special)
    {
        var s = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            if (c == '\\' || special.Contains(c, StringComparison.Ordinal))
            {
                s.Append('\\');
            }
            s.Append(c);
        }
        return s.ToString();
    }
}
