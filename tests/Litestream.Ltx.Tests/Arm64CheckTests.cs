namespace Litestream.Ltx.Tests;

/// <summary>
/// The Arm64 PMULL CRC kernel, proven on this x64 machine: Arm64Check/ is cross-published with NativeAOT
/// for linux-arm64 (gcc cross linker via build/cc-arm64, as publish.sh does) and run under qemu-aarch64,
/// where it runs the same differential checks as <see cref="Crc64IsoTests"/> against the scalar oracle.
/// </summary>
public class Arm64CheckTests
{
    // The suite's second run turns intrinsics off for this process only; the build and the Arm program must not inherit it.
    private static readonly Dictionary<string, string?> s_intrinsicsOn = new() { ["DOTNET_EnableHWIntrinsic"] = null };

    [RequiresFact(Need.Repo, Need.Arm64Toolchain, Need.Qemu, Need.HostIntrinsics)]
    public void Crc64_PmullKernelUnderQemu_EqualsScalarOracle()
    {
        string output = TestRepo.Path("tests", "Litestream.Ltx.Tests", "Arm64Check", "bin", "publish-linux-arm64");
        ProcessResult publish = Processes.Run("dotnet", ["publish", TestRepo.Path("tests", "Litestream.Ltx.Tests", "Arm64Check", "Litestream.Ltx.Arm64Check.csproj"),
            "-c", "Release", "-r", "linux-arm64", "-o", output, "-nologo", "-v", "q",
            $"-p:CppCompilerAndLinker={TestRepo.Path("build", "cc-arm64")}", "-p:ObjCopyName=aarch64-linux-gnu-objcopy"], TimeSpan.FromMinutes(30), s_intrinsicsOn);
        Assert.True(publish.ExitCode == 0, $"cross-publish failed:\n{publish.Output}");
        ProcessResult run = Processes.Run(Prerequisites.Qemu!, ["-L", "/usr/aarch64-linux-gnu", Path.Combine(output, "Litestream.Ltx.Arm64Check")], TimeSpan.FromMinutes(10), s_intrinsicsOn);
        Assert.Equal("kernel=pmull arch=Arm64\nok\n", run.Output);
        Assert.Equal(0, run.ExitCode);
    }
}
