namespace Litestream.Ltx.Tests.Fixtures;

/// <summary>Locates ../shared/spec beside the repository; tests that need it skip when it is absent.</summary>
internal static class SharedSpec
{
    public static string? Root { get; } = Find();

    public static string TestData => Path.Combine(Root ?? "", "testdata");

    public const string MissingReason = "../shared/spec is not beside the repository (conformance fixtures are read from there, never copied)";

    public static string File(string relative) => Path.Combine(TestData, relative);

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
