using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Litestream.Aot.Cli;

/// <summary>Options shared by several commands; every one answers to upstream's single-dash spelling too.</summary>
internal static class CommonOptions
{
    // The placeholder help prints after a flag that takes a value ("-o PATH"), by flag name, so call sites
    // stay one line and the same flag reads the same in every command.
    private static readonly Dictionary<string, string> s_helpNames = new(StringComparer.Ordinal)
    {
        ["config"] = "PATH",
        ["o"] = "PATH",
        ["exec"] = "CMD",
        ["txid"] = "TXID",
        ["timestamp"] = "TIMESTAMP",
        ["parallelism"] = "N",
        ["level"] = "N|all",
        ["log-level"] = "LEVEL",
        ["integrity-check"] = "none|quick|full",
        ["follow-interval"] = "DURATION",
        ["lease-wait"] = "DURATION",
        ["socket"] = "PATH",
        ["timeout"] = "SECONDS",
        ["replica"] = "URL",
    };

    // The fixed values of a flag, by flag name: shell completion offers them (the commands still parse and reject
    // a value themselves, with their own messages).
    private static readonly Dictionary<string, string[]> s_values = new(StringComparer.Ordinal)
    {
        ["integrity-check"] = ["none", "quick", "full"],
        ["log-level"] = ["trace", "debug", "info", "warn", "error"],
    };

    /// <summary>An option named <c>--name</c> that also answers to upstream's <c>-name</c>.</summary>
    public static Option<T> Create<T>(string name, string description, params string[] extraAliases)
    {
        var option = new Option<T>("--" + name, ["-" + name, .. extraAliases]) { Description = description };
        if (s_helpNames.TryGetValue(name, out string? helpName))
        {
            option.HelpName = helpName;
        }
        if (s_values.TryGetValue(name, out string[]? values))
        {
            option.CompletionSources.Add(values);
        }
        return option;
    }

    /// <summary>
    /// A whole-number option with a lower bound whose bad values read like the rest of our errors
    /// (<c>invalid value "abc" for -parallelism: expected a whole number</c>), not the parser's type names.
    /// </summary>
    public static Option<int> CreateInt(string name, string description, int defaultValue, int minimum)
    {
        Option<int> option = Create<int>(name, description);
        option.DefaultValueFactory = _ => defaultValue;
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
            {
                result.AddError($"invalid value \"{text}\" for {FlagSpelling(result, name)}: expected a whole number");
                return defaultValue;
            }
            if (value < minimum)
            {
                result.AddError($"invalid value \"{text}\" for {FlagSpelling(result, name)}: must be at least {minimum}");
                return defaultValue;
            }
            return value;
        };
        return option;
    }

    public static Option<string?> Config() => Create<string?>("config", "config file; \"-\" reads it from standard input (default $LITESTREAM_CONFIG or /etc/litestream.yml)");

    public static Option<bool> NoExpandEnv() => Create<bool>("no-expand-env", "do not expand $VAR / ${VAR} in the config file");

    public static Option<bool> Json() => Create<bool>("json", "print JSON");

    /// <summary>The flag as the user typed it (<c>-parallelism</c> or <c>--parallelism</c>).</summary>
    private static string FlagSpelling(ArgumentResult result, string name)
        => result.Parent is OptionResult { IdentifierToken: { } token } ? token.Value : "-" + name;
}
