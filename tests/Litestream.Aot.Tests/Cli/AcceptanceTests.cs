namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Runs the black-box acceptance checks in ../shared/acceptance against the published exe: every script
/// (but the runner and its library) as one case; the S3 round trip, which needs s3rver, on its own.
/// </summary>
public class AcceptanceTests
{
    private const string S3RoundTrip = "s3-roundtrip";

    private static string Dir => Path.GetFullPath(Path.Combine(TestRepo.Spec!, "..", "acceptance"));

    public static TheoryData<string> Checks()
    {
        var data = new TheoryData<string>();
        foreach (string script in Directory.GetFiles(Dir, "*.sh").Order())
        {
            string name = Path.GetFileNameWithoutExtension(script);
            if (name is not ("run-all" or "lib" or S3RoundTrip))
            {
                data.Add(name);
            }
        }
        return data;
    }

    [RequiresTheory(Need.Exe, Need.Spec)]
    [MemberData(nameof(Checks))]
    public void Check_Passes(string name) => AssertPasses(name, null);

    [RequiresFact(Need.Exe, Need.Spec, Need.S3rver)]
    public void S3RoundTrip_Passes() => AssertPasses(S3RoundTrip, new() { ["S3RVER"] = S3rver.ScriptPath });

    private static void AssertPasses(string name, Dictionary<string, string?>? env)
    {
        ProcessResult r = Processes.Run("bash", [Path.Combine(Dir, name + ".sh"), Exe.Path!], TimeSpan.FromMinutes(5), env);
        Assert.True(r.ExitCode == 0, $"{name}: exit {r.ExitCode}: {r.Stdout.Trim()} {r.Stderr.Trim()}");
        Assert.StartsWith("PASS: ", r.Stdout.Trim().Split('\n')[^1]);
    }
}
