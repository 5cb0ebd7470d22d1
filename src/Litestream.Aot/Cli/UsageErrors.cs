using System.CommandLine;
using System.CommandLine.Parsing;

namespace Litestream.Aot.Cli;

/// <summary>
/// Turns a parse into the one usage error worth showing. The parser alone is not enough: it happily takes
/// an unknown <c>-flag</c> as the DB_PATH argument (upstream's Go flag package rejects it), and its own
/// messages name CLR types and list every problem at once.
/// </summary>
internal static class UsageErrors
{
    /// <summary>The first usage error of <paramref name="parse"/>, or null when it can run.</summary>
    public static UsageException? Find(ParseResult parse)
    {
        Command command = parse.CommandResult.Command;
        string hint = HelpHint(parse);
        if (FirstUnknownFlag(parse) is { } flag)
        {
            return LegacyUsage.Flag(command.Name, flag) ?? new UsageException($"unknown flag \"{flag}\"", hint);
        }
        if (parse.Errors.Count == 0)
        {
            return null;
        }
        if (command is RootCommand)
        {
            return parse.UnmatchedTokens.Count > 0
                ? LegacyUsage.Command(parse.UnmatchedTokens[0]) ?? new UsageException($"unknown command \"{parse.UnmatchedTokens[0]}\"", hint)
                : new UsageException("no command given", hint);
        }
        ParseError error = parse.Errors[0];
        string message = error.SymbolResult switch
        {
            OptionResult { Tokens.Count: 0, IdentifierToken: { } token } => $"flag needs a value: {token.Value}",
            ArgumentResult { Tokens.Count: 0, Parent: CommandResult, Argument: { } argument } => $"missing argument {argument.HelpName ?? argument.Name}",
            _ when parse.UnmatchedTokens.Count > 0 => $"unexpected argument \"{parse.UnmatchedTokens[0]}\"",
            _ => error.Message,
        };
        return new UsageException(message, hint);
    }

    /// <summary>"run 'litestream restore -h' for usage" for the command the user was running.</summary>
    public static string HelpHint(ParseResult parse)
        => parse.CommandResult.Command is RootCommand
            ? "run 'litestream -h' for the list of commands"
            : $"run 'litestream {parse.CommandResult.Command.Name} -h' for usage";

    /// <summary>
    /// A token that looks like a flag but landed in a positional argument or in no symbol at all. Tokens after
    /// "--" are positional by request (a database file named "-x.db").
    /// </summary>
    private static string? FirstUnknownFlag(ParseResult parse)
    {
        var afterDoubleDash = new HashSet<string>(StringComparer.Ordinal);
        bool seenDoubleDash = false;
        foreach (Token token in parse.Tokens)
        {
            if (token.Type == TokenType.DoubleDash)
            {
                seenDoubleDash = true;
            }
            else if (seenDoubleDash)
            {
                afterDoubleDash.Add(token.Value);
            }
        }
        IEnumerable<string> positional = parse.CommandResult.Children.OfType<ArgumentResult>()
            .SelectMany(a => a.Tokens).Select(t => t.Value)
            .Concat(parse.UnmatchedTokens);
        foreach (string value in positional)
        {
            if (value.Length > 1 && value[0] == '-' && !afterDoubleDash.Contains(value))
            {
                return value;
            }
        }
        return null;
    }
}
