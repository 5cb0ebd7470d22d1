using System.Diagnostics;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The cross-published linux-arm64 binary, run on this x64 machine under qemu-user: version, and a
/// replicate → restore round trip of a live database on a file replica.
/// </summary>
public class Arm64Tests
{
    private static readonly string? s_exe = Exe.RepoRoot is { } root && File.Exists(Path.Combine(root, "bin", "linux-arm64", "litestream"))
        ? Path.Combine(root, "bin", "linux-arm64", "litestream")
        : null;

    private static readonly string? s_qemu = new[] { "/usr/bin/qemu-aarch64", "/usr/bin/qemu-aarch64-static" }.FirstOrDefault(File.Exists);

    private static bool Available => s_exe is not null && s_qemu is not null;

    private static ProcessStartInfo Qemu(params string[] args)
    {
        var psi = new ProcessStartInfo(s_qemu!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "-L", "/usr/aarch64-linux-gnu", s_exe! }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }
        return psi;
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        using Process p = Process.Start(Qemu(args))!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr.Result);
    }

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        if (Available)
        {
            data.Add("arm64");
        }
        else
        {
            data.Add("(no bin/linux-arm64/litestream or qemu-aarch64: run ./publish.sh -r linux-arm64 with the cross toolchain)");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Version_UnderQemu_ReportsArm64(string what)
    {
        Assert.True(Available, what);
        var (code, stdout, _) = Run("version");
        Assert.Equal(0, code);
        Assert.Matches(@"^v\d+\.\d+\.\d+-aot \(sqlite 3\.\d+\.\d+, linux-arm64\)\n$", stdout);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReplicateRestore_UnderQemu_ContentEqual(string what)
    {
        Assert.True(Available, what);
        const string writer = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
            for i in range(int(sys.argv[2])):
                c.execute("INSERT INTO t(v) VALUES (?)", ("arm%d" % i + "q" * (i % 300),))
            """;
        const string dump = """
            import sqlite3, sys, hashlib
            c = sqlite3.connect(sys.argv[1])
            rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
            print(c.execute("PRAGMA integrity_check").fetchone()[0], len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
            """;
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        Exe.Python(writer, db, "100");
        using (Process replicate = Process.Start(Qemu("replicate", db, $"file://{dir}/replica"))!)
        {
            Thread.Sleep(3000);
            Exe.Python(writer, db, "500");
            Thread.Sleep(3000);
            Process.Start("kill", ["-TERM", replicate.Id.ToString()])!.WaitForExit();
            Assert.True(replicate.WaitForExit(60_000), "replicate under qemu did not stop");
            Assert.Equal(0, replicate.ExitCode);
        }
        var (code, _, stderr) = Run("restore", "-o", Path.Combine(dir, "out.db"), $"file://{dir}/replica");
        Assert.True(code == 0, stderr);
        Assert.Equal(Exe.Python(dump, db), Exe.Python(dump, Path.Combine(dir, "out.db")));
    }
}
