using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Litestream.Aot.Tests.Cli;
using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Vfs;

/// <summary>
/// The packages that wrap the published litestream-vfs.so, each built by its script (deploy/python/build.sh,
/// deploy/npm/build.sh), installed from the local file as a user would (pip into a fresh venv with no index, npm
/// into an empty project offline), loaded through the package's own <c>load()</c> and used to read a replica that
/// <c>litestream replicate</c> keeps writing: the rows equal the writer's exactly, before and after new commits.
/// </summary>
[Requires(Need.Exe, Need.VfsExtension, Need.Python)]
public sealed partial class VfsPackageTests
{
    private readonly ITestOutputHelper _output;

    public VfsPackageTests(ITestOutputHelper output) => _output = output;

    /// <summary>The version every package carries: Directory.Build.props' &lt;Version&gt;.</summary>
    private static string Version => VersionElement().Match(File.ReadAllText(TestRepo.Path("Directory.Build.props"))).Groups[1].Value;

    [RequiresFact(Need.ExtensionPython, Need.Venv)]
    public void PythonWheel_PipInstalledIntoAVenv_LoadReadsALiveReplica_ExactRows()
    {
        string dir = TestRepo.TempDir();
        string wheel = Build(dir, "python", "linux-x64");
        AssertWheel(wheel, "x86_64", VfsHost.SoPath);

        string venv = Path.Combine(dir, "venv");
        Processes.RunOk(Prerequisites.ExtensionPython!, ["-m", "venv", venv], TimeSpan.FromMinutes(5));
        string pip = Processes.RunOk(Path.Combine(venv, "bin", "pip"), ["install", "--no-index", "--no-cache-dir", wheel], TimeSpan.FromMinutes(5));
        Assert.Contains($"Successfully installed litestream-vfs-{Version}", pip);

        // The wheel's own load(): extension loading is on only for the call (load_extension after it is refused).
        const string Reader = """
            import importlib.metadata, sqlite3, sys, time
            import litestream_vfs
            print("version", importlib.metadata.version("litestream-vfs"), importlib.metadata.metadata("litestream-vfs")["License-Expression"])
            print("path", litestream_vfs.loadable_path())
            boot = sqlite3.connect(":memory:")
            litestream_vfs.load(boot)
            try:
                boot.load_extension(litestream_vfs.loadable_path())
                print("loading still enabled")
            except sqlite3.OperationalError as e:
                print("loading disabled:", e)
            c = sqlite3.connect("file:app.db?vfs=litestream&replica=" + sys.argv[1], uri=True, isolation_level=None)
            for n in sys.argv[2:]:
                end = time.time() + 120
                while c.execute("SELECT count(*) FROM t").fetchone()[0] < int(n) and time.time() < end:
                    time.sleep(0.05)
                print("rows", ";".join("%d=%s" % r for r in c.execute("SELECT id, v FROM t ORDER BY id")), flush=True)
            """;
        string site = Path.Combine(venv, "lib", $"python{PythonVersion(venv)}", "site-packages", "litestream_vfs");
        string output = ReadLiveReplica(dir, url => new BackgroundProcess(Path.Combine(venv, "bin", "python"), ["-c", Reader, url, "5", "8"]));
        Assert.Equal(
            [$"version {Version} Apache-2.0", $"path {site}/litestream-vfs.so", "loading disabled: not authorized", .. ExpectedRows],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(File.ReadAllBytes(VfsHost.SoPath), File.ReadAllBytes(Path.Combine(site, "litestream-vfs.so")));
    }

    /// <summary>
    /// linux-arm64 (cross-published; nothing here runs an aarch64 Python or Node): its own wheel, tagged aarch64, and
    /// one npm package holding both libraries, the arm64 one byte for byte under lib/linux-arm64/.
    /// </summary>
    [RequiresFact(Need.Arm64Exe)]
    public void Arm64_WheelTaggedAarch64_NpmPackageHoldsBothLibraries()
    {
        string dir = TestRepo.TempDir();
        string arm64 = TestRepo.Path("bin", "linux-arm64", "litestream-vfs.so");
        AssertWheel(Build(dir, "python", "linux-arm64"), "aarch64", arm64);

        string tgz = Build(dir, "npm", "linux-x64", "linux-arm64");
        string unpacked = Path.Combine(dir, "unpacked");
        Directory.CreateDirectory(unpacked);
        Processes.RunOk("tar", ["xzf", tgz, "-C", unpacked]);
        string package = Path.Combine(unpacked, "package");
        Assert.Equal(File.ReadAllBytes(arm64), File.ReadAllBytes(Path.Combine(package, "lib", "linux-arm64", "litestream-vfs.so")));
        Assert.Equal(File.ReadAllBytes(VfsHost.SoPath), File.ReadAllBytes(Path.Combine(package, "lib", "linux-x64", "litestream-vfs.so")));
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(package, "package.json")));
        Assert.Equal(["x64", "arm64"], json.RootElement.GetProperty("cpu").EnumerateArray().Select(e => e.GetString()));
    }

    /// <summary>
    /// The wheel's name carries the platform tag of the newest glibc symbol <paramref name="so"/> needs (readelf's
    /// symbol table; at least 2.17), it holds exactly the package, the library and the .dist-info, and its RECORD
    /// lists every other entry with its SHA-256 and size, as pip and PyPI check.
    /// </summary>
    private static void AssertWheel(string wheel, string arch, string so)
    {
        int glibc = Math.Max(17, GlibcSymbol().Matches(Processes.RunOk("readelf", ["--dyn-syms", "--wide", so])).Max(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)));
        string platform = glibc == 17 ? $"manylinux_2_17_{arch}.manylinux2014_{arch}" : $"manylinux_2_{glibc}_{arch}";
        Assert.Equal($"litestream_vfs-{Version}-py3-none-{platform}.whl", Path.GetFileName(wheel));
        using ZipArchive zip = ZipFile.OpenRead(wheel);
        string info = $"litestream_vfs-{Version}.dist-info";
        Assert.Equal(["litestream_vfs/__init__.py", "litestream_vfs/litestream-vfs.so", $"{info}/METADATA", $"{info}/WHEEL", $"{info}/licenses/LICENSE", $"{info}/RECORD"],
            zip.Entries.Select(e => e.FullName));
        string[] expected = [.. zip.Entries.SkipLast(1).Select(e =>
        {
            using var content = new MemoryStream();
            e.Open().CopyTo(content);
            string hash = Convert.ToBase64String(SHA256.HashData(content.ToArray())).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            return $"{e.FullName},sha256={hash},{content.Length}";
        }), $"{info}/RECORD,,"];
        using var record = new StreamReader(zip.GetEntry($"{info}/RECORD")!.Open());
        Assert.Equal(expected, record.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var tags = new StreamReader(zip.GetEntry($"{info}/WHEEL")!.Open());
        Assert.Contains($"Tag: py3-none-manylinux_2_{glibc}_{arch}\n", tags.ReadToEnd());
        using var library = new MemoryStream();
        zip.GetEntry("litestream_vfs/litestream-vfs.so")!.Open().CopyTo(library);
        Assert.Equal(File.ReadAllBytes(so), library.ToArray());
    }

    [RequiresFact(Need.BetterSqlite3)]
    public void NpmPackage_InstalledOffline_LoadIntoBetterSqlite3ReadsALiveReplica_ExactRows()
    {
        string dir = TestRepo.TempDir();
        string tgz = Build(dir, "npm", "linux-x64");
        Assert.Equal($"litestream-vfs-{Version}.tgz", Path.GetFileName(tgz));

        string project = Path.Combine(dir, "app");
        Directory.CreateDirectory(project);
        File.WriteAllText(Path.Combine(project, "package.json"), """{ "name": "app", "private": true }""");
        Processes.RunOk("npm", ["install", "--prefix", project, "--offline", "--no-audit", "--no-fund", tgz], TimeSpan.FromMinutes(5));
        string installed = Path.Combine(project, "node_modules", "litestream-vfs");
        Assert.Equal(["LICENSE", "README.md", "index.d.ts", "index.js", "lib/linux-x64/litestream-vfs.so", "package.json"],
            Directory.GetFiles(installed, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(installed, f)).Order(StringComparer.Ordinal));
        using (JsonDocument package = JsonDocument.Parse(File.ReadAllText(Path.Combine(installed, "package.json"))))
        {
            JsonElement p = package.RootElement;
            Assert.Equal(Version, p.GetProperty("version").GetString());
            Assert.Equal("Apache-2.0", p.GetProperty("license").GetString());
            Assert.Equal(["x64"], p.GetProperty("cpu").EnumerateArray().Select(e => e.GetString()));
        }

        // better-sqlite3 checks that the directory of the name it opens exists: the replica URL goes in encoded.
        File.WriteAllText(Path.Combine(project, "reader.js"), """
            const Database = require("better-sqlite3");
            const litestream = require("litestream-vfs");
            const [url, ...counts] = process.argv.slice(2);
            console.log("path", litestream.getLoadablePath());
            litestream.load(new Database(":memory:"));
            const db = new Database("file:app.db?vfs=litestream&replica=" + encodeURIComponent(url), { readonly: true });
            const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
            for (const n of counts) {
              const end = Date.now() + 120000;
              while (db.prepare("SELECT count(*) AS n FROM t").get().n < Number(n) && Date.now() < end) sleep(50);
              console.log("rows", db.prepare("SELECT id, v FROM t ORDER BY id").all().map((r) => `${r.id}=${r.v}`).join(";"));
            }
            """);
        var env = new Dictionary<string, string?> { ["NODE_PATH"] = Prerequisites.BetterSqlite3 };
        string output = ReadLiveReplica(dir, url => new BackgroundProcess("node", [Path.Combine(project, "reader.js"), url, "5", "8"], env));
        Assert.Equal([$"path {installed}/lib/linux-x64/litestream-vfs.so", .. ExpectedRows], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>What the readers print: the five rows written before replicate started, then all eight.</summary>
    private static string[] ExpectedRows =>
        ["rows " + string.Join(';', Enumerable.Range(1, 5).Select(id => $"{id}=row{id - 1}")), "rows " + string.Join(';', Enumerable.Range(1, 8).Select(id => $"{id}=row{id - 1}"))];

    /// <summary>
    /// Five commits, then <c>litestream replicate</c> to a file replica; the reader (started with the replica URL) prints
    /// the rows once it sees five, three more commits follow while it reads, and it prints them again at eight.
    /// </summary>
    private string ReadLiveReplica(string dir, Func<string, BackgroundProcess> startReader)
    {
        string db = Path.Combine(dir, "app.db");
        string rep = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, 5);
        using BackgroundProcess replicate = Exe.Start("replicate", db, "file://" + rep);
        Wait.Until(() => FileReplica.NewestL0Txid(rep) >= 1, "the first upload", replicate);
        using BackgroundProcess reader = startReader("file://" + rep);
        Wait.Until(() => reader.Output.Contains("rows ", StringComparison.Ordinal), "the reader to see the first five rows", reader);
        SqliteWriter.Write(db, 3, start: 5);
        string output = reader.WaitForSuccess(TimeSpan.FromMinutes(3));
        Assert.Equal(0, replicate.Stop());
        _output.WriteLine(output);
        return output;
    }

    /// <summary>Runs deploy/&lt;kind&gt;/build.sh for <paramref name="rids"/> into <paramref name="dir"/>/dist; returns the file it printed last.</summary>
    private string Build(string dir, string kind, params string[] rids)
    {
        ProcessResult built = Processes.Run("bash", [TestRepo.Path("deploy", kind, "build.sh"), .. rids.SelectMany(r => new[] { "-r", r }), "-o", Path.Combine(dir, "dist")],
            TimeSpan.FromMinutes(5));
        _output.WriteLine(built.Output);
        Assert.True(built.ExitCode == 0, built.Output);
        string file = built.Stdout.Trim().Split('\n')[^1];
        Assert.True(File.Exists(file), built.Output);
        return file;
    }

    private static string PythonVersion(string venv) => Processes.RunOk(Path.Combine(venv, "bin", "python"), ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).Trim();

    [GeneratedRegex("<Version>([^<]+)</Version>")]
    private static partial Regex VersionElement();

    [GeneratedRegex(@"@GLIBC_2\.(\d+)")]
    private static partial Regex GlibcSymbol();
}
