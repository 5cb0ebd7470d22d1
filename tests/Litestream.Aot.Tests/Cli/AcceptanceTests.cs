using System.Diagnostics;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Runs the black-box acceptance checks in ../shared/acceptance against the published exe. A check
/// whose prerequisite is not configured here (S3RVER for the S3 round trip, LITESTREAM_ARM64 for the
/// arm64 one) is not listed rather than passed.
/// </summary>
public class AcceptanceTests
{
    private static string? Dir => Exe.Spec is null ? null : Path.GetFullPath(Path.Combine(Exe.Spec, "..", "acceptance"));

    public static TheoryData<string> Checks()
    {
        var data = new TheoryData<string>();
        if (Dir is null || !Directory.Exists(Dir) || Exe.Path is null)
        {
            data.Add("(acceptance checks or exe missing)");
            return data;
        }
        foreach (string script in Directory.GetFiles(Dir, "*.sh").Order())
        {
            string name = Path.GetFileNameWithoutExtension(script);
            bool configured = name switch
            {
                "run-all" or "lib" => false,
                "s3-roundtrip" => Environment.GetEnvironmentVariable("S3RVER") is { Length: > 0 },
                "arm64-roundtrip" => Environment.GetEnvironmentVariable("LITESTREAM_ARM64") is { Length: > 0 },
                _ => true,
            };
            if (configured)
            {
                data.Add(name);
            }
        }
        return data;
    }

    [ExeTheory]
    [MemberData(nameof(Checks))]
    public void Check_Passes(string name)
    {
        Assert.NotNull(Dir);
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(Dir!, name + ".sh"));
        psi.ArgumentList.Add(Exe.Path!);
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(180_000), $"{name} timed out");
        Assert.True(p.ExitCode == 0, $"{name}: exit {p.ExitCode}: {stdout.Trim()} {stderr.Result.Trim()}");
        Assert.StartsWith("PASS: ", stdout.Trim().Split('\n')[^1]);
    }
}
