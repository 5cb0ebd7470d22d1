using System.Diagnostics;

namespace Litestream.Ltx.Tests;

/// <summary>
/// The Arm64 PMULL CRC kernel, proven on this x64 machine: Arm64Check/ is cross-published with NativeAOT
/// for linux-arm64 (gcc cross linker via build/cc-arm64, as publish.sh does) and run under qemu-aarch64,
/// where it runs the same differential checks as <see cref="Crc64IsoTests"/> against the scalar oracle.
/// </summary>
public class Arm64CheckTests
{
    private static readonly string? s_repo = FindRepo();
    private static readonly string? s_qemu = new[] { "/usr/bin/qemu-aarch64", "/usr/bin/qemu-aarch64-static" }.FirstOrDefault(File.Exists);

    [Arm64CheckFact]
    public void Crc64_PmullKernelUnderQemu_EqualsScalarOracle()
    {
        string output = Path.Combine(s_repo!, "tests", "Litestream.Ltx.Tests", "Arm64Check", "bin", "publish-linux-arm64");
        (int code, string log) = Run("dotnet", "publish", Path.Combine(s_repo!, "tests", "Litestream.Ltx.Tests", "Arm64Check", "Litestream.Ltx.Arm64Check.csproj"),
            "-c", "Release", "-r", "linux-arm64", "-o", output, "-nologo", "-v", "q",
            $"-p:CppCompilerAndLinker={Path.Combine(s_repo!, "build", "cc-arm64")}", "-p:ObjCopyName=aarch64-linux-gnu-objcopy");
        Assert.True(code == 0, $"cross-publish failed:\n{log}");
        (code, log) = Run(s_qemu!, "-L", "/usr/aarch64-linux-gnu", Path.Combine(output, "Litestream.Ltx.Arm64Check"));
        Assert.Equal("kernel=pmull arch=Arm64\nok\n", log);
        Assert.Equal(0, code);
    }

    private static (int Code, string Output) Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        // The suite's second run turns intrinsics off for this process only; the build and the Arm program must not inherit it.
        psi.Environment.Remove("DOTNET_EnableHWIntrinsic");
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    private static string? FindRepo()
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

    /// <summary>Skips unless the repository, the gcc cross toolchain and qemu-aarch64 are all present.</summary>
    private sealed class Arm64CheckFactAttribute : FactAttribute
    {
        public Arm64CheckFactAttribute()
        {
            bool gcc = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, "aarch64-linux-gnu-gcc")));
            if (s_repo is null || s_qemu is null || !gcc)
            {
                Skip = "needs the repository, aarch64-linux-gnu-gcc and qemu-aarch64 (.ci/install.sh installs both)";
            }
            else if (Environment.GetEnvironmentVariable("DOTNET_EnableHWIntrinsic") == "0")
            {
                Skip = "the Arm64 check does not depend on the host's intrinsics; it runs in the suite's first pass";
            }
        }
    }
}
