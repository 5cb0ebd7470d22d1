using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Litestream.Aot.Mcp;

/// <summary>What a command printed (stdout, then stderr) and its exit code.</summary>
internal readonly record struct CommandOutput(int ExitCode, string Output);

/// <summary>
/// Runs this executable with CLI arguments, as upstream's MCP tools run <c>litestream</c> from PATH (here the very
/// binary that serves them, so an agent never drives another version). Bounded: the output kept is at most
/// <see cref="MaxOutputChars"/> per stream, and the command is killed after <see cref="Timeout"/> or when the
/// server stops; stdin is empty, so <c>-config -</c> cannot wait on it.
/// </summary>
internal static class SelfCommand
{
    /// <summary>Most characters kept of each of stdout and stderr; the rest is read and dropped.</summary>
    internal const int MaxOutputChars = 1024 * 1024;

    /// <summary>Longest a tool's command may run (a restore of a large database is the long one).</summary>
    internal static readonly TimeSpan Timeout = TimeSpan.FromMinutes(30);

    public static async Task<CommandOutput> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? "litestream")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }
        using Process child = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {psi.FileName}");
        child.StandardInput.Close();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        Task<string> stdout = ReadBoundedAsync(child.StandardOutput);
        Task<string> stderr = ReadBoundedAsync(child.StandardError);
        try
        {
            await child.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // A restore killed mid-way leaves only its temp file, which the next restore deletes.
            child.Kill(entireProcessTree: true);
            await child.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            string why = cancellationToken.IsCancellationRequested ? "the MCP server is stopping" : $"it ran longer than {GoDuration.Format(Timeout)}";
            return new CommandOutput(-1, (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false)) + $"killed: {why}\n");
        }
        return new CommandOutput(child.ExitCode, (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false)));
    }

    /// <summary>"exit status N" as Go's <c>exec.ExitError</c> says it (upstream appends it to a failed tool's output).</summary>
    public static string Describe(CommandOutput output)
        => output.ExitCode < 0 ? "killed" : "exit status " + output.ExitCode.ToString(CultureInfo.InvariantCulture);

    private static async Task<string> ReadBoundedAsync(StreamReader reader)
    {
        var kept = new StringBuilder();
        char[] buffer = new char[8192];
        bool truncated = false;
        int read;
        while ((read = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            int keep = Math.Min(read, MaxOutputChars - kept.Length);
            kept.Append(buffer, 0, keep);
            truncated |= keep < read;
        }
        if (truncated)
        {
            kept.Append(CultureInfo.InvariantCulture, $"\n[output truncated at {MaxOutputChars} characters]\n");
        }
        return kept.ToString();
    }
}
