namespace Litestream.Testing;

/// <summary>
/// The repository checkout the tests run from (the folder holding Litestream.slnx above the test binaries),
/// what lives in it (the published exe, tools that .ci/install.sh puts in .tools/) and the conformance
/// fixtures in ../shared/spec beside it. Fixtures are read from there, never copied.
/// </summary>
public static class TestRepo
{
    /// <summary>The checkout's root, or null when the tests run outside one.</summary>
    public static string? Root { get; } = FindRoot();

    /// <summary>../shared/spec beside the checkout, or null when it is not there.</summary>
    public static string? Spec { get; } = Root is { } root && Directory.Exists(System.IO.Path.Combine(root, "..", "shared", "spec"))
        ? System.IO.Path.GetFullPath(System.IO.Path.Combine(root, "..", "shared", "spec"))
        : null;

    /// <summary>A path inside the checkout (the caller has required <see cref="Need.Repo"/> or something in it).</summary>
    public static string Path(params string[] parts) => System.IO.Path.Combine([Root ?? throw new InvalidOperationException("not inside the repository checkout"), .. parts]);

    /// <summary>A conformance fixture: ../shared/spec/testdata/<paramref name="relative"/>.</summary>
    public static string SpecFile(string relative) => System.IO.Path.Combine(Spec ?? throw new InvalidOperationException("../shared/spec is missing"), "testdata", relative);

    /// <summary>A path inside the checkout when that file exists, else null.</summary>
    public static string? ExistingFile(params string[] parts) => Root is not null && File.Exists(Path(parts)) ? Path(parts) : null;

    /// <summary>The published exe, bin/linux-x64/litestream, or null.</summary>
    public static string? Exe { get; } = ExistingFile("bin", "linux-x64", "litestream");

    /// <summary>A new empty directory under the system temp folder.</summary>
    public static string TempDir(string area = "litestream-tests")
    {
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), area, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The first of <paramref name="names"/> found as an executable file on PATH (absolute names are checked as they are), or null.</summary>
    public static string? OnPath(params string[] names)
    {
        string[] dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries);
        foreach (string name in names)
        {
            if (System.IO.Path.IsPathRooted(name))
            {
                if (File.Exists(name))
                {
                    return name;
                }
                continue;
            }
            foreach (string dir in dirs)
            {
                string candidate = System.IO.Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    private static string? FindRoot()
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
