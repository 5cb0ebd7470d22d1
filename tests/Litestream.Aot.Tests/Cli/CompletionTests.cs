using System.CommandLine;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// <c>litestream completion bash|zsh|fish</c> from the published exe, loaded into the real shells: bash runs the function
/// <c>complete -p litestream</c> names with the words readline would pass it; fish answers <c>complete -C</c>; zsh
/// registers the function under compinit. What each offers is compared with the command tree the exe parses with.
/// </summary>
public class CompletionTests
{
    // Sources the script, then calls the function `complete -p litestream` names as readline would: COMP_WORDS split from
    // the line (a trailing space starts a new, empty word), COMP_CWORD the last word, arguments: command, word, previous word.
    private const string BashDriver = """
        source <("$1" completion bash) || exit 1
        spec=$(complete -p litestream) || exit 1
        [[ $spec == *" -F "* ]] || { echo "no function in: $spec" >&2; exit 1; }
        function=${spec##* -F }; function=${function%% *}
        COMP_LINE=$2; COMP_POINT=${#2}
        read -ra COMP_WORDS <<< "$2"
        [[ $2 == *' ' ]] && COMP_WORDS+=('')
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        COMPREPLY=()
        "$function" litestream "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf '%s\n' "${COMPREPLY[@]}"
        """;

    [RequiresFact(Need.Exe)]
    public void Bash_CommandPrefix_CompletesMatchingCommands()
    {
        Assert.Equal(["reset", "restore"], Bash("litestream res").Order(StringComparer.Ordinal));
        Assert.Equal(VisibleCommands(), Bash("litestream ").Order(StringComparer.Ordinal));
    }

    [RequiresFact(Need.Exe)]
    public void Bash_RestoreDash_OffersEveryRestoreFlagInUpstreamSpelling()
    {
        Command restore = Program.BuildRoot().Subcommands.Single(c => c.Name == "restore");
        List<string> expected = [.. restore.Options.Select(o => o.Aliases.Single(a => a.Length > 1 && a[1] != '-' && char.IsLetter(a[1]))), "-h"];
        Assert.Contains("-txid", expected);
        Assert.Equal(expected.Order(StringComparer.Ordinal), Bash("litestream restore -").Order(StringComparer.Ordinal));
        Assert.Equal(["-timestamp", "-txid"], Bash("litestream restore -t").Order(StringComparer.Ordinal));
        Assert.Equal(["--timestamp", "--txid"], Bash("litestream restore --t").Order(StringComparer.Ordinal));
    }

    [RequiresFact(Need.Exe)]
    public void Bash_FlagValue_OffersChoicesOrLeavesFilesToReadline()
    {
        Assert.Equal(["full", "none", "quick"], Bash("litestream restore -integrity-check ").Order(StringComparer.Ordinal));
        Assert.Equal(["debug", "error", "info", "trace", "warn"], Bash("litestream replicate --log-level ").Order(StringComparer.Ordinal));
        // No words after -o or for DB_PATH: `complete -o default` lets readline complete file names there.
        Assert.Empty(Bash("litestream restore -o "));
        Assert.Empty(Bash("litestream restore -txid 000000000000002a "));
        Assert.Equal(["bash", "fish", "zsh"], Bash("litestream completion ").Order(StringComparer.Ordinal));
        Assert.DoesNotContain("man", Bash("litestream m"));
    }

    [RequiresFact(Need.Exe, Need.Shells)]
    public void Fish_CompleteC_OffersCommandsFlagsAndValues()
    {
        string script = Script("fish");
        string output = Shell("fish", "-c", "source $argv[1]; complete -C 'litestream res'; echo ==; complete -C 'litestream restore -t'; echo ==; complete -C 'litestream restore -integrity-check '", script);
        string[] parts = output.Split("==\n");
        Assert.Equal(["reset\tclear local replication state so the next sync writes a snapshot", "restore\trestore a database from its replica"], Lines(parts[0]));
        Assert.Equal(["-timestamp\trestore the state at this time (RFC 3339)", "-txid\trestore up to this TXID (16 hex digits)"], Lines(parts[1]));
        Assert.Equal(["full", "none", "quick"], Lines(parts[2]).Select(l => l.Split('\t')[0]));
    }

    [RequiresFact(Need.Exe, Need.Shells)]
    public void Zsh_Script_RegistersUnderCompinit()
    {
        string script = Script("zsh");
        Assert.StartsWith("#compdef litestream\n", File.ReadAllText(script));
        Assert.Equal("", Shell("zsh", "-n", script));
        Assert.Equal("_litestream\n", Shell("zsh", "-fc", "autoload -U compinit && compinit -u -D && source $1 && print -r -- $_comps[litestream]", "zsh", script));
    }

    [RequiresFact(Need.Exe)]
    public void Completion_UnknownShell_IsUsageError()
    {
        ProcessResult result = Exe.Run("completion", "tcsh");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: unsupported shell \"tcsh\"\nhint: use bash, zsh or fish\n", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    private static string[] VisibleCommands()
        => [.. Program.BuildRoot().Subcommands.Where(c => !c.Hidden).Select(c => c.Name).Order(StringComparer.Ordinal)];

    private static string[] Bash(string line) => Lines(Shell("bash", "--norc", "--noprofile", "-c", BashDriver, "bash", Exe.Path!, line));

    private static string Script(string shell)
    {
        ProcessResult result = Exe.Run("completion", shell);
        Assert.True(result.ExitCode == 0, result.Stderr);
        string path = Path.Combine(TestRepo.TempDir(), "litestream." + shell);
        File.WriteAllText(path, result.Stdout);
        return path;
    }

    private static string Shell(string file, params string[] args)
    {
        ProcessResult r = Processes.Run(file, args);
        Assert.True(r.ExitCode == 0, $"{file} exited {r.ExitCode}: {r.Output}");
        return r.Output;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
