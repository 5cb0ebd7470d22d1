using System.CommandLine;

namespace Litestream.Aot.Cli;

/// <summary>Options shared by several commands; every one answers to upstream's single-dash spelling too.</summary>
internal static class CommonOptions
{
    /// <summary>An option named <c>--name</c> that also answers to upstream's <c>-name</c>.</summary>
    public static Option<T> Create<T>(string name, string description, params string[] extraAliases)
    {
        var option = new Option<T>("--" + name, ["-" + name, .. extraAliases]) { Description = description };
        return option;
    }

    public static Option<string?> Config() => Create<string?>("config", "path to the config file (default $LITESTREAM_CONFIG or /etc/litestream.yml)");

    public static Option<bool> NoExpandEnv() => Create<bool>("no-expand-env", "do not expand $VAR / ${VAR} in the config file");

    public static Option<bool> Json() => Create<bool>("json", "print JSON");
}
