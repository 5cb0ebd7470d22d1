using System.Diagnostics;

namespace Litestream.Tests.Fixtures;

/// <summary>Shared fixture locations and helpers: ../shared/spec beside the repo, temp directories, python writers.</summary>
internal static class TestPaths
{
    public static string? RepoRoot { get; } = FindRepoRoot();

    public static string? Spec { get; } = RepoRoot is { } root && Directory.Exists(Path.Combine(root, "..", "shared", "spec"))
        ? Path.GetFullPath(Path.Combine(root, "..", "shared", "spec"))
        : null;

    public const string MissingSpec = "../shared/spec is not beside the repository (fixtures are read from there, never copied)";

    public static string SpecFile(string relative) => Path.Combine(Spec!, "testdata", relative);

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "litestream-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Runs python3 with a script and arguments; asserts it succeeds and returns stdout.</summary>
    public static string Python(string script, params string[] args)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"python3 failed: {stderr.Result}");
        return output;
    }

    private static string? FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Litestream.slnx")))
            {
                return dir.FullName;
            }
        }
        return null;
    }
}

/// <summary>A fact that skips when ../shared/spec is missing.</summary>
public sealed class SpecFactAttribute : FactAttribute
{
    public SpecFactAttribute()
    {
        if (TestPaths.Spec is null)
        {
            Skip = TestPaths.MissingSpec;
        }
    }
}
