using System.Collections.Concurrent;

namespace Litestream.Testing;

/// <summary>One prerequisite: what it is, whether this machine has it, how to get it, and whether its absence is by design.</summary>
/// <param name="What">What the test needs, as a user would name it.</param>
/// <param name="IsMet">The check, run once per test process.</param>
/// <param name="HowToGet">How to get it; for a by-design one, how to turn it on.</param>
/// <param name="ByDesign">True for modes (long mode): never a failure, always a skip.</param>
public sealed record Prerequisite(string What, Func<bool> IsMet, string HowToGet, bool ByDesign = false)
{
    /// <summary>The line a skipped (or, in strict mode, failed) test shows.</summary>
    public string Reason => ByDesign ? HowToGet : $"needs {What}: {HowToGet}";
}

/// <summary>
/// Every <see cref="Need"/>'s check and its "how to get it", defined once. With LITESTREAM_TEST_STRICT=1
/// (test.sh sets it; CI runs test.sh) a missing tool, server or published binary fails the test that needs
/// it instead of skipping it, so nothing is quietly left out; by-design modes stay skips.
/// </summary>
public static class Prerequisites
{
    /// <summary>The environment variable that turns a missing prerequisite into a failure.</summary>
    public const string StrictVariable = "LITESTREAM_TEST_STRICT";

    private static readonly ConcurrentDictionary<Need, bool> s_met = new();

    /// <summary>True when <see cref="StrictVariable"/> is 1.</summary>
    public static bool Strict => Environment.GetEnvironmentVariable(StrictVariable) == "1";

    /// <summary>The definition of <paramref name="need"/>: a new <see cref="Need"/> member gets its one line here.</summary>
#pragma warning disable CS8524 // only unnamed values are unhandled: a named member without its line stays an error (CS8509)
    public static Prerequisite Of(Need need) => need switch
    {
        Need.Repo => new("the repository checkout (Litestream.slnx above the test binaries)", () => TestRepo.Root is not null, "run the tests from a clone"),
        Need.Python => new("python3 with its sqlite3 module", () => TestRepo.OnPath("python3") is not null, "bash .ci/install.sh installs it"),
        Need.Sqlite3 => new("the sqlite3 command-line shell", () => TestRepo.OnPath("sqlite3") is not null, "bash .ci/install.sh installs it"),
        Need.Spec => new("../shared/spec beside the repository", () => TestRepo.Spec is not null, "fixtures are read from there, never copied; check out ../shared beside the clone"),
        Need.ReferenceTool => new("python3 and ../shared/spec/tools/ltx_ref.py", () => ReferenceTool is not null, "the independent reference decoder; check out ../shared and install python3 (bash .ci/install.sh)"),
        Need.Exe => new("bin/linux-x64/litestream", () => TestRepo.Exe is not null, "run ./publish.sh (test.sh does)"),
        Need.VfsExtension => new("bin/linux-x64/litestream-vfs.so", () => TestRepo.ExistingFile("bin", "linux-x64", "litestream-vfs.so") is not null, "run ./publish.sh (test.sh does)"),
        Need.ExtensionPython => new("a python3 whose sqlite3 module can load extensions", () => ExtensionPython is not null, "pyenv builds often cannot; bash .ci/install.sh installs Debian's python3"),
        Need.Venv => new("python3 -m venv with pip", () => ExtensionPython is { } python && Processes.Run(python, ["-c", "import venv, ensurepip"]).ExitCode == 0,
            "bash .ci/install.sh installs Debian's python3-venv"),
        Need.BetterSqlite3 => new("node, npm and better-sqlite3 (.tools/better-sqlite3)", () => BetterSqlite3 is not null && TestRepo.OnPath("npm") is not null,
            "bash .ci/install.sh compiles it into .tools/better-sqlite3/"),
        Need.Arm64Exe => new("bin/linux-arm64/litestream", () => TestRepo.ExistingFile("bin", "linux-arm64", "litestream") is not null, "run ./publish.sh -r linux-arm64 (test.sh does when the cross toolchain is installed)"),
        Need.Qemu => new("qemu-aarch64", () => Qemu is not null, "bash .ci/install.sh installs qemu-user"),
        Need.Arm64Toolchain => new("aarch64-linux-gnu-gcc", () => TestRepo.OnPath("aarch64-linux-gnu-gcc") is not null, "bash .ci/install.sh installs the gcc cross toolchain"),
        Need.S3rver => new("s3rver", () => S3rver.ScriptPath is not null, "bash .ci/install.sh puts it in .tools/, or set S3RVER"),
        Need.Azurite => new("azurite", () => Azurite.ScriptPath is not null, "bash .ci/install.sh puts it in .tools/, or set AZURITE to azurite-blob"),
        Need.Sshd => new("sshd and ssh-keygen", () => Sshd.MissingReason is null, "bash .ci/install.sh installs openssh-server"),
        Need.Rclone => new("rclone", () => RcloneWebDav.ProgramPath is not null, "bash .ci/install.sh installs Debian's rclone"),
        Need.NginxDav => new("nginx and its dav-ext module", () => NginxDav.IsInstalled, "bash .ci/install.sh installs nginx-light and libnginx-mod-http-dav-ext"),
        Need.NatsServer => new("nats-server", () => NatsServer.ProgramPath is not null, "bash .ci/install.sh installs Debian's nats-server"),
        Need.GcsEmulator => new("firebase-tools' Cloud Storage emulator", () => GcsEmulator.FirebaseTools is not null && TestRepo.OnPath("node") is not null, "bash .ci/install.sh puts firebase-tools in .tools/firebase/, or set FIREBASE_TOOLS to its package directory"),
        Need.Prometheus => new("prometheus and promtool", () => Testing.Prometheus.ProgramPath is not null && Testing.Prometheus.PromtoolPath is not null, "bash .ci/install.sh installs Debian's prometheus"),
        Need.Upstream => new("the upstream v0.3.13 binary (.tools/upstream/package/litestream)", () => Upstream is not null, "bash .ci/upstream.sh (.ci/install.sh runs it)"),
        Need.Shells => new("zsh and fish", () => TestRepo.OnPath("zsh") is not null && TestRepo.OnPath("fish") is not null, "bash .ci/install.sh installs them"),
        Need.ManTools => new("groff, man and col", () => new[] { "groff", "man", "col" }.All(t => TestRepo.OnPath(t) is not null), "bash .ci/install.sh installs groff-base, man-db and bsdextrautils"),
        Need.PackageTools => new("dpkg-deb, rpm, file and systemd-analyze", () => new[] { "dpkg-deb", "rpm", "file", "systemd-analyze" }.All(t => TestRepo.OnPath(t) is not null),
            "bash .ci/install.sh installs rpm, file and systemd"),
        Need.Root => new("root", () => Environment.UserName == "root", "run as root (CI does)"),
        Need.Tmpfs => new("permission to mount a tmpfs", () => Testing.Tmpfs.CanMount, "run as root (CI does)"),
        Need.LongMode => new("long mode", () => Environment.GetEnvironmentVariable("LITESTREAM_LONG") == "1", "long mode: set LITESTREAM_LONG=1 (tests/long.sh)", ByDesign: true),
        Need.HostIntrinsics => new("hardware intrinsics", () => Environment.GetEnvironmentVariable("DOTNET_EnableHWIntrinsic") != "0",
            "runs in the suite's first pass; this one has hardware intrinsics off", ByDesign: true),
    };
#pragma warning restore CS8524

    /// <summary>Whether <paramref name="need"/> is met here (checked once per process).</summary>
    public static bool IsMet(Need need) => s_met.GetOrAdd(need, static n => Of(n).IsMet());

    /// <summary>
    /// The unmet prerequisite among <paramref name="needs"/> a test reports, or null when all are met: a by-design one
    /// first (a test that does not run in this mode is a skip even where a tool is missing too), else the first.
    /// </summary>
    public static Prerequisite? FirstUnmet(IEnumerable<Need> needs)
    {
        Prerequisite[] unmet = needs.Distinct().Where(n => !IsMet(n)).Select(Of).ToArray();
        return unmet.FirstOrDefault(p => p.ByDesign) ?? unmet.FirstOrDefault();
    }

    /// <summary>python3 and ../shared/spec/tools/ltx_ref.py: the tool's path, or null.</summary>
    public static string? ReferenceTool { get; } = TestRepo.Spec is { } spec && File.Exists(Path.Combine(spec, "tools", "ltx_ref.py")) && TestRepo.OnPath("python3") is not null
        ? Path.Combine(spec, "tools", "ltx_ref.py")
        : null;

    /// <summary>qemu-aarch64 (or its static build), or null.</summary>
    public static string? Qemu { get; } = TestRepo.OnPath("/usr/bin/qemu-aarch64", "/usr/bin/qemu-aarch64-static", "qemu-aarch64");

    /// <summary>The node_modules folder holding a built better-sqlite3 (.ci/install.sh compiles it there), or null.</summary>
    public static string? BetterSqlite3 { get; } = TestRepo.ExistingFile(".tools", "better-sqlite3", "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node") is not null
        ? TestRepo.Path(".tools", "better-sqlite3", "node_modules")
        : null;

    /// <summary>The upstream v0.3.13 binary that .ci/upstream.sh fetches, or null.</summary>
    public static string? Upstream { get; } = TestRepo.ExistingFile(".tools", "upstream", "package", "litestream");

    /// <summary>A python3 whose sqlite3 module can load extensions (pyenv builds often cannot; Debian's can), or null.</summary>
    public static string? ExtensionPython => s_extensionPython.Value;

    private static readonly Lazy<string?> s_extensionPython = new(() => new[] { "/usr/bin/python3", "python3" }.FirstOrDefault(CanLoadExtensions));

    private static bool CanLoadExtensions(string python)
    {
        try
        {
            return Processes.Run(python, ["-c", "import sqlite3, sys; sys.exit(0 if hasattr(sqlite3.Connection, 'enable_load_extension') else 1)"]).ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
