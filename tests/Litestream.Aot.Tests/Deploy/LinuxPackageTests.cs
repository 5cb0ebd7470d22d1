using System.Text.Json;
using Litestream.Aot.Tests.Cli;

namespace Litestream.Aot.Tests.Deploy;

/// <summary>
/// deploy/package.sh over the already published binaries (never republishing): the .deb and .rpm hold the files
/// where each distribution expects them, their scripts never start the service, the .deb installs on this machine
/// and puts a working <c>litestream</c> on the PATH and is removed again, systemd accepts the unit, SHA256SUMS
/// verifies, and the SBOM names the NuGet packages, the .NET runtime and the SQLite the binary reports.
/// </summary>
public sealed class LinuxPackageTests : IClassFixture<LinuxPackageTests.Packages>
{
    private readonly Packages _packages;

    public LinuxPackageTests(Packages packages) => _packages = packages;

    /// <summary>Runs deploy/package.sh once for the class: amd64, and arm64 too when it is published and qemu can run it.</summary>
    public sealed class Packages : IDisposable
    {
        public Packages()
        {
            if (!Prerequisites.IsMet(Need.Exe) || !Prerequisites.IsMet(Need.PackageTools))
            {
                return; // every test declares both: none runs
            }
            string versionLine = Exe.Run("version").Stdout.Trim();   // v0.5.16-aot (sqlite 3.54.1, linux-x64)
            Version = versionLine[1..versionLine.IndexOf('-', StringComparison.Ordinal)];
            SqliteVersion = versionLine.Split("(sqlite ")[1].Split(',')[0];
            Arm64 = Prerequisites.IsMet(Need.Arm64Exe) && TestRepo.ExistingFile("bin", "linux-arm64", "litestream-vfs.so") is not null && Prerequisites.IsMet(Need.Qemu);
            Output = TestRepo.TempDir();
            List<string> args = [TestRepo.Path("deploy", "package.sh"), "-a", "amd64", "-o", Output];
            if (Arm64)
            {
                args.AddRange(["-a", "arm64"]);
            }
            ProcessResult packaged = Processes.Run("bash", args, TimeSpan.FromMinutes(30));
            (ExitCode, Log) = (packaged.ExitCode, packaged.Output);
        }

        public string Version { get; } = "";
        public string SqliteVersion { get; } = "";
        public bool Arm64 { get; }
        public string Output { get; } = "";
        public int ExitCode { get; } = -1;
        public string Log { get; } = "";

        public string Artifact(string name)
        {
            Assert.True(ExitCode == 0, $"deploy/package.sh failed:\n{Log}");
            string path = Path.Combine(Output, name);
            Assert.True(System.IO.File.Exists(path), $"{name} missing; package.sh printed:\n{Log}");
            return path;
        }

        public void Dispose()
        {
            if (Output.Length > 0)
            {
                Directory.Delete(Output, recursive: true);
            }
        }
    }

    /// <summary>A maintainer script line that would enable or start the service (only an upgrade's try-restart may run it).</summary>
    private const string NeverStarts = @"(?m)^\s*(systemctl|deb-systemd-invoke|service)\s+(--\S+\s+)*(start|enable|restart|reenable)\b";

    private static readonly string[] s_files =
    [
        "/usr/bin/litestream",
        "/etc/litestream.yml",
        "/usr/share/man/man1/litestream.1.gz",
        "/usr/share/bash-completion/completions/litestream",
        "/usr/share/fish/vendor_completions.d/litestream.fish",
    ];

    [RequiresFact(Need.Exe, Need.PackageTools)]
    public void Deb_InfoAndContents_ListEveryFileWithItsMode()
    {
        string deb = _packages.Artifact($"litestream_{_packages.Version}_amd64.deb");
        string info = Tool("dpkg-deb", "--info", deb);
        Assert.Contains(" Package: litestream\n", info);
        Assert.Contains($" Version: {_packages.Version}\n", info);
        Assert.Contains(" Architecture: amd64\n", info);
        Assert.Matches(@" Depends: libc6 \(>= 2\.[0-9]+\)\n", info);
        Assert.Contains(" Homepage: https://", info);
        foreach (string script in new[] { "postinst", "prerm", "postrm", "conffiles", "md5sums", "control" })
        {
            Assert.Matches($@"\n +[0-9]+ bytes, +[0-9]+ lines +\*? +{script} ", info);
        }
        Assert.Equal("/etc/litestream.yml\n", Tool("bash", "-c", "dpkg-deb --ctrl-tarfile \"$1\" | tar -xO ./conffiles", "bash", deb));
        Assert.DoesNotMatch(NeverStarts, Tool("bash", "-c", "dpkg-deb --ctrl-tarfile \"$1\" | tar -xO ./postinst ./prerm ./postrm", "bash", deb));

        Dictionary<string, string> contents = Tool("dpkg-deb", "--contents", deb).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => !f[0].StartsWith('d'))
            .ToDictionary(f => f[^1].TrimStart('.'), f => f[0] + " " + f[1]);
        Assert.Equal("-rwxr-xr-x root/root", contents["/usr/bin/litestream"]);
        foreach (string file in s_files.Skip(1).Concat(["/lib/systemd/system/litestream.service", "/usr/share/zsh/vendor-completions/_litestream", "/usr/share/doc/litestream/copyright"]))
        {
            Assert.Equal("-rw-r--r-- root/root", contents[file]);
        }
        Assert.Equal(s_files.Length + 3, contents.Count);
    }

    [RequiresFact(Need.Exe, Need.PackageTools)]
    public void Rpm_QueryPackage_ListsEveryFileAndNeverStartsTheService()
    {
        string rpm = _packages.Artifact($"litestream-{_packages.Version}-1.x86_64.rpm");
        string[] files = [.. s_files, "/usr/lib/systemd/system/litestream.service", "/usr/share/zsh/site-functions/_litestream", "/usr/share/licenses/litestream/copyright"];
        Assert.Equal(files.Order(StringComparer.Ordinal), Lines(Tool("rpm", "-qlp", rpm)).Order(StringComparer.Ordinal));
        Assert.Equal(["/etc/litestream.yml"], Lines(Tool("rpm", "-qcp", rpm)));
        Assert.Equal($"litestream {_packages.Version} 1 x86_64 Apache-2.0", Tool("rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{LICENSE}", rpm));
        Assert.Matches(@"glibc >= 2\.[0-9]+", Tool("rpm", "-qp", "--requires", rpm));

        string scripts = Tool("rpm", "-qp", "--scripts", rpm);
        Assert.Contains("postinstall scriptlet", scripts);
        Assert.Contains("preuninstall scriptlet", scripts);
        Assert.Contains("useradd --system", scripts);
        Assert.DoesNotMatch(NeverStarts, scripts);
        Assert.Contains("systemctl try-restart litestream.service", scripts);
    }

    [RequiresFact(Need.Exe, Need.PackageTools, Need.Arm64Exe, Need.Qemu)]
    public void Arm64_Packages_CarryTheArm64Binary()
    {
        Assert.True(_packages.Arm64, "bin/linux-arm64/litestream is published but package.sh was not run for arm64 (litestream-vfs.so missing?)");
        string deb = _packages.Artifact($"litestream_{_packages.Version}_arm64.deb");
        Assert.Contains(" Architecture: arm64\n", Tool("dpkg-deb", "--info", deb));
        string rpm = _packages.Artifact($"litestream-{_packages.Version}-1.aarch64.rpm");
        Assert.Equal("aarch64", Tool("rpm", "-qp", "--qf", "%{ARCH}", rpm));
        string binary = _packages.Artifact($"litestream-{_packages.Version}-linux-aarch64");
        Assert.Contains("ARM aarch64", Tool("file", "-b", binary), StringComparison.Ordinal);
    }

    [RequiresFact(Need.Exe, Need.PackageTools, Need.Root)]
    public void Deb_InstallOnThisMachine_PutsWorkingLitestreamOnPathAndRemovesCleanly()
    {
        string deb = _packages.Artifact($"litestream_{_packages.Version}_amd64.deb");
        Assert.False(System.IO.File.Exists("/usr/bin/litestream"), "/usr/bin/litestream exists already: this test would replace it");
        Assert.False(System.IO.File.Exists("/etc/litestream.yml"), "/etc/litestream.yml exists already: this test would take it over");
        bool userExisted = Processes.Run("getent", ["passwd", "litestream"]).ExitCode == 0;
        bool groupExisted = Processes.Run("getent", ["group", "litestream"]).ExitCode == 0;
        bool dataExisted = Directory.Exists("/var/lib/litestream");
        try
        {
            string installed = Tool("dpkg", "-i", deb);
            Assert.Contains("systemctl enable --now litestream", installed);

            // On the PATH, as a login shell finds it.
            Assert.Equal("/usr/bin/litestream\n", Tool("bash", "-lc", "command -v litestream"));
            Assert.StartsWith($"v{_packages.Version}-aot (sqlite {_packages.SqliteVersion}, linux-x64)", Tool("bash", "-lc", "litestream version"));
            Assert.Equal($"ii  {_packages.Version}", Tool("dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}", "litestream"));

            // The user and its data directory exist, the config is private to them, and the service is not enabled.
            Assert.Equal("litestream litestream 750", Tool("stat", "-c", "%U %G %a", "/var/lib/litestream").Trim());
            Assert.Equal("root litestream 640", Tool("stat", "-c", "%U %G %a", "/etc/litestream.yml").Trim());
            Assert.False(System.IO.File.Exists("/etc/systemd/system/multi-user.target.wants/litestream.service"), "the package must not enable the service");
            // The shipped config parses: it lists no database yet.
            ProcessResult databases = Exe.Run("databases", "-config", "/etc/litestream.yml");
            Assert.True(databases.ExitCode == 0, databases.Stderr);

            VerifyUnit();

            // An upgrade (the same package again: postinst configure OLD_VERSION) keeps the admin's choices and says nothing.
            Tool("chmod", "0600", "/etc/litestream.yml");
            Assert.DoesNotContain("systemctl enable", Tool("dpkg", "-i", deb));
            Assert.Equal("root litestream 600", Tool("stat", "-c", "%U %G %a", "/etc/litestream.yml").Trim());

            Tool("dpkg", "--purge", "litestream");
            Assert.False(System.IO.File.Exists("/usr/bin/litestream"));
            Assert.False(System.IO.File.Exists("/lib/systemd/system/litestream.service"));
            Assert.False(System.IO.File.Exists("/etc/litestream.yml"));
            Assert.DoesNotContain("ii", Processes.Run("dpkg-query", ["-W", "-f", "${db:Status-Abbrev}", "litestream"]).Output);
        }
        finally
        {
            Processes.Run("dpkg", ["--purge", "litestream"]);
            if (!userExisted)
            {
                Processes.Run("userdel", ["litestream"]);
            }
            if (!groupExisted)
            {
                Processes.Run("groupdel", ["litestream"]);
            }
            if (!dataExisted && Directory.Exists("/var/lib/litestream"))
            {
                Directory.Delete("/var/lib/litestream", recursive: true);
            }
        }
    }

    [RequiresFact(Need.Exe, Need.PackageTools)]
    public void Sha256Sums_VerifyEveryArtifact()
    {
        string sums = _packages.Artifact("SHA256SUMS");
        string[] names = [.. Lines(System.IO.File.ReadAllText(sums)).Select(l => l.Split("  ")[1])];
        List<string> expected =
        [
            $"litestream_{_packages.Version}_amd64.deb", $"litestream-{_packages.Version}-1.x86_64.rpm",
            $"litestream-{_packages.Version}-linux-x86_64", $"litestream-vfs-{_packages.Version}-linux-x86_64.so",
            $"litestream-{_packages.Version}.cdx.json",
        ];
        if (_packages.Arm64)
        {
            expected.AddRange([$"litestream_{_packages.Version}_arm64.deb", $"litestream-{_packages.Version}-1.aarch64.rpm",
                $"litestream-{_packages.Version}-linux-aarch64", $"litestream-vfs-{_packages.Version}-linux-aarch64.so"]);
        }
        Assert.Equal(expected.Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
        ProcessResult verified = Processes.Run("bash", ["-c", "cd \"$1\" && sha256sum -c SHA256SUMS", "bash", _packages.Output]);
        Assert.True(verified.ExitCode == 0, verified.Output);
        Assert.Equal(names.Length, Lines(verified.Output).Count(l => l.EndsWith(": OK", StringComparison.Ordinal)));
    }

    [RequiresFact(Need.Exe, Need.PackageTools)]
    public void Sbom_NamesNuGetPackagesRuntimeAndSqlite()
    {
        using JsonDocument bom = JsonDocument.Parse(System.IO.File.ReadAllText(_packages.Artifact($"litestream-{_packages.Version}.cdx.json")));
        JsonElement root = bom.RootElement;
        Assert.Equal("CycloneDX", root.GetProperty("bomFormat").GetString());
        Assert.Equal("1.5", root.GetProperty("specVersion").GetString());
        Assert.Matches("^urn:uuid:[0-9a-f-]{36}$", root.GetProperty("serialNumber").GetString());
        Assert.Equal(_packages.Version, root.GetProperty("metadata").GetProperty("component").GetProperty("version").GetString());

        Dictionary<string, JsonElement> components = root.GetProperty("components").EnumerateArray().ToDictionary(c => c.GetProperty("bom-ref").GetString()!);
        foreach (string package in new[] { "pkg:nuget/System.CommandLine@2.0.0", "pkg:nuget/YamlDotNet@18.1.0", "pkg:nuget/AWSSDK.S3@4.0.104.11", "pkg:nuget/K4os.Compression.LZ4@1.3.8", "pkg:nuget/SQLitePCLRaw.core@3.0.5" })
        {
            Assert.True(components.TryGetValue(package, out JsonElement component), $"{package} missing from the SBOM");
            Assert.Equal(package, component.GetProperty("purl").GetString());
            Assert.Equal("SHA-512", component.GetProperty("hashes")[0].GetProperty("alg").GetString());
            Assert.Matches("^[0-9a-f]{128}$", component.GetProperty("hashes")[0].GetProperty("content").GetString());
        }
        Assert.Contains(components.Keys, k => k.StartsWith("pkg:nuget/Microsoft.NETCore.App.Runtime.NativeAOT.linux-x64@", StringComparison.Ordinal));
        Assert.Equal(_packages.Arm64, components.Keys.Any(k => k.StartsWith("pkg:nuget/Microsoft.NETCore.App.Runtime.NativeAOT.linux-arm64@", StringComparison.Ordinal)));
        Assert.Contains(components.Values, c => c.GetProperty("name").GetString() == "Microsoft.DotNet.ILCompiler" && c.GetProperty("scope").GetString() == "excluded");

        JsonElement sqlite = components[$"pkg:generic/sqlite@{_packages.SqliteVersion}"];
        Assert.Equal(_packages.SqliteVersion, sqlite.GetProperty("version").GetString());
        Assert.Equal($"cpe:2.3:a:sqlite:sqlite:{_packages.SqliteVersion}:*:*:*:*:*:*:*", sqlite.GetProperty("cpe").GetString());
        Assert.Equal("SHA-256", sqlite.GetProperty("hashes")[0].GetProperty("alg").GetString());

        // Every reference in the dependency graph names a component (or the application itself), and the binary depends on SQLite.
        var refs = components.Keys.Append("litestream").ToHashSet(StringComparer.Ordinal);
        Dictionary<string, string[]> graph = root.GetProperty("dependencies").EnumerateArray()
            .ToDictionary(d => d.GetProperty("ref").GetString()!, d => d.GetProperty("dependsOn").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.All(graph, entry =>
        {
            Assert.Contains(entry.Key, refs);
            Assert.All(entry.Value, r => Assert.Contains(r, refs));
        });
        Assert.Contains($"pkg:generic/sqlite@{_packages.SqliteVersion}", graph["litestream"]);
        Assert.Contains("pkg:nuget/System.CommandLine@2.0.0", graph["litestream"]);
        Assert.Contains("pkg:nuget/Litestream@" + _packages.Version, graph["litestream-vfs"]);
    }

    /// <summary><c>systemd-analyze verify</c> of the installed unit: a clean answer, or the test fails.</summary>
    private static void VerifyUnit()
    {
        ProcessResult verify = Processes.Run("systemd-analyze", ["verify", "/lib/systemd/system/litestream.service"]);
        Assert.True(verify.ExitCode == 0, verify.Output);
        Assert.DoesNotContain("litestream.service:", verify.Output);
    }

    private static string Tool(string file, params string[] args)
    {
        ProcessResult r = Processes.Run(file, args);
        Assert.True(r.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {r.ExitCode}:\n{r.Output}");
        return r.Output;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
