using System.Diagnostics;

namespace Litestream.Hosting.Tests.Fixtures;

/// <summary>The repository checkout the tests run from, and a way to run the dotnet CLI and programs in it.</summary>
public static class Repo
{
    public static string? Root { get; } = Find();

    public const string MissingReason = "needs the repository checkout (Litestream.slnx above the test binaries)";

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root!, .. parts]);

    /// <summary>Runs a program to completion (at most <paramref name="timeout"/>) and returns its exit code and both outputs.</summary>
    public static (int Code, string Output) Run(string exe, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? Root! };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        // test.sh's second pass turns intrinsics off for the test process only; builds must not inherit it.
        psi.Environment.Remove("DOTNET_EnableHWIntrinsic");
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return (-1, $"timed out after {timeout}\n{stdout.Result}{stderr.Result}");
        }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Litestream.slnx")))
            {
                return dir.FullName;
            }
        }
        return null;
    }
}

/// <summary>A fact that needs the repository checkout (examples, src/ to pack).</summary>
public sealed class RepoFactAttribute : FactAttribute
{
    public RepoFactAttribute()
    {
        if (Repo.Root is null)
        {
            Skip = Repo.MissingReason;
        }
    }
}
