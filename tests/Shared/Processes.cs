using System.Diagnostics;

namespace Litestream.Testing;

/// <summary>What a finished process printed and how it exited.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>stdout followed by stderr.</summary>
    public string Output => Stdout + Stderr;
}

/// <summary>Runs other programs (the exe, python3, mount, build scripts) to their end with a bounded wait.</summary>
public static class Processes
{
    /// <summary>How long <see cref="Run"/> waits unless told otherwise.</summary>
    public static readonly TimeSpan DefaultLimit = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/>; <paramref name="stdin"/> is written and closed (null: closed at
    /// once). An <paramref name="env"/> value of null removes that variable. A process still running after
    /// <paramref name="limit"/> is killed with its children and the call throws <see cref="TimeoutException"/>.
    /// </summary>
    public static ProcessResult Run(string file, IEnumerable<string> args, TimeSpan? limit = null, IDictionary<string, string?>? env = null,
        string? stdin = null, string? workingDirectory = null)
    {
        using Process p = Process.Start(StartInfo(file, args, env, workingDirectory, redirectInput: true))!;
        try
        {
            if (stdin is not null)
            {
                p.StandardInput.Write(stdin);
            }
            p.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program stopped reading (an oversized input is refused before its end): its answer still counts.
        }
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        TimeSpan wait = limit ?? DefaultLimit;
        if (!p.WaitForExit(wait))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {wait.TotalSeconds:0} s; output so far:\n{stdout.Result}{stderr.Result}");
        }
        p.WaitForExit();
        return new ProcessResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs a program and fails the test unless it exits 0; returns stdout.</summary>
    public static string RunOk(string file, IEnumerable<string> args, TimeSpan? limit = null, IDictionary<string, string?>? env = null)
    {
        ProcessResult r = Run(file, args, limit, env);
        Assert.True(r.ExitCode == 0, $"{System.IO.Path.GetFileName(file)} {string.Join(' ', args.Take(1))} failed ({r.ExitCode}): {r.Stderr}{r.Stdout}");
        return r.Stdout;
    }

    /// <summary>The start info every helper here uses: output redirected, <paramref name="env"/> applied (null values removed).</summary>
    public static ProcessStartInfo StartInfo(string file, IEnumerable<string> args, IDictionary<string, string?>? env = null, string? workingDirectory = null, bool redirectInput = false)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = redirectInput };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach ((string key, string? value) in env ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                psi.Environment.Remove(key);
            }
            else
            {
                psi.Environment[key] = value;
            }
        }
        if (workingDirectory is not null)
        {
            psi.WorkingDirectory = workingDirectory;
        }
        return psi;
    }
}
