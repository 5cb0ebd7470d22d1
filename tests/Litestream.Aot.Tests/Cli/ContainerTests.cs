namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The binary needs nothing beyond what deploy/Dockerfile's base image holds: deploy/rootfs.sh builds
/// that file set (glibc, OpenSSL, CA certificates, the binary) as a directory, and the exe runs
/// chrooted into it — version, replicate -once, restore — with no shell, SQLite or .NET inside.
/// </summary>
public class ContainerTests
{
    [ExeFact]
    public void Chroot_MinimalRootfs_VersionReplicateRestore()
    {
        Assert.True(Environment.UserName == "root", "chroot needs root (CI runs as root)");
        string root = Path.Combine(Exe.TempDir(), "rootfs");
        var (built, log) = Exe.Tool("bash", Path.Combine(Exe.RepoRoot!, "deploy", "rootfs.sh"), root, Exe.Path!);
        Assert.True(built == 0, log);
        Assert.False(File.Exists(Path.Combine(root, "bin", "sh")), "the rootfs must not contain a shell");

        var (code, version) = Exe.Tool("chroot", root, "/usr/local/bin/litestream", "version");
        Assert.Equal(0, code);
        Assert.StartsWith("v", version);

        Exe.Python("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
            for i in range(300):
                c.execute("INSERT INTO t(v) VALUES (?)", ("chroot%d" % i,))
            """, Path.Combine(root, "data", "app.db"));
        File.WriteAllText(Path.Combine(root, "data", "c.yml"), "dbs:\n  - path: /data/app.db\n    replica:\n      url: file:///data/replica\n");
        var (once, onceLog) = Exe.Tool("chroot", root, "/usr/local/bin/litestream", "replicate", "-once", "-config", "/data/c.yml");
        Assert.True(once == 0, onceLog);
        var (restore, restoreLog) = Exe.Tool("chroot", root, "/usr/local/bin/litestream", "restore", "-o", "/data/out.db", "file:///data/replica");
        Assert.True(restore == 0, restoreLog);
        const string dump = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            print(c.execute("PRAGMA integrity_check").fetchone()[0], c.execute("SELECT count(*), max(v) FROM t").fetchone())
            """;
        Assert.Equal(Exe.Python(dump, Path.Combine(root, "data", "app.db")), Exe.Python(dump, Path.Combine(root, "data", "out.db")));
    }
}
