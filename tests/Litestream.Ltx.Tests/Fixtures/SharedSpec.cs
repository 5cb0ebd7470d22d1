namespace Litestream.Ltx.Tests.Fixtures;

/// <summary>Locates ../shared/spec beside the repository; tests that need it skip when it is absent.</summary>
internal static class SharedSpec
{
    public static string? Root { get; } = Find();

    public static string TestData => Path.Combine(Root ?? "", "testdata");

    public const string MissingReason = "../shared/spec is not beside the repository (conformance fixtures are read from there, never copied)";

    public static string File(string relative) => Path.Combine(TestData, relative);

    /// <summary>Path of tools/ltx_ref.py when it and python3 are both available.</summary>
    public static string? ReferenceTool { get; } = FindReferenceTool();

    /// <summary>Runs the reference tool with arguments; fails the test on a non-zero exit.</summary>
    public static string RunReferenceTool(params string[] args)
        => RunPython(null, [ReferenceTool ?? throw new InvalidOperationException("ltx_ref.py unavailable"), .. args]);

    /// <summary>Runs python3 on a script (or, when null, the first argument as a script file); returns stdout.</summary>
    public static string RunPython(string? script, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (script is not null)
        {
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(script);
        }
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using System.Diagnostics.Process p = System.Diagnostics.Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"python3 {string.Join(' ', args)} failed: {output}{stderr.Result}");
        return output;
    }

    private static string? FindReferenceTool()
    {
        string? tool = Root is null ? null : Path.Combine(Root, "tools", "ltx_ref.py");
        bool python = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && System.IO.File.Exists(Path.Combine(d, "python3")));
        return tool is not null && System.IO.File.Exists(tool) && python ? tool : null;
    }

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Litestream.slnx")))
            {
                string spec = Path.Combine(dir.FullName, "..", "shared", "spec");
                return Directory.Exists(spec) ? Path.GetFullPath(spec) : null;
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
        if (SharedSpec.Root is null)
        {
            Skip = SharedSpec.MissingReason;
        }
    }
}

/// <summary>A theory that skips when ../shared/spec is missing.</summary>
public sealed class SpecTheoryAttribute : TheoryAttribute
{
    public SpecTheoryAttribute()
    {
        if (SharedSpec.Root is null)
        {
            Skip = SharedSpec.MissingReason;
        }
    }
}

/// <summary>A fact that needs python3 and ../shared/spec/tools/ltx_ref.py (the independent reference decoder); skips with the reason otherwise.</summary>
public sealed class ReferenceToolFactAttribute : FactAttribute
{
    public ReferenceToolFactAttribute()
    {
        if (SharedSpec.Root is null)
        {
            Skip = SharedSpec.MissingReason;
        }
        else if (SharedSpec.ReferenceTool is null)
        {
            Skip = "python3 is not on PATH (the ltx_ref.py second-opinion decoder needs it)";
        }
    }
}
