namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The binary needs nothing beyond what deploy/Dockerfile's base image holds: deploy/rootfs.sh builds
/// that file set (glibc, OpenSSL, CA certificates, the binary) as a directory, and the exe runs
/// chrooted into it — version, replicate -once, restore — with no shell, SQLite or .NET inside.
/// </summary>
[Requires(Need.Python)]
public class ContainerTests
{
    [RequiresFact(Need.Exe, Need.Root)]
    public void Chroot_MinimalRootfs_VersionReplicateRestore()
    {
        string root = Path.Combine(TestRepo.TempDir(), "rootfs");
        ProcessResult built = Processes.Run("bash", [TestRepo.Path("deploy", "rootfs.sh"), root, Exe.Path!], TimeSpan.FromMinutes(10));
        Assert.True(built.ExitCode == 0, built.Output);
        Assert.False(File.Exists(Path.Combine(root, "bin", "sh")), "the rootfs must not contain a shell");

        ProcessResult version = Processes.Run("chroot", [root, "/usr/local/bin/litestream", "version"]);
        Assert.Equal(0, version.ExitCode);
        Assert.StartsWith("v", version.Output);

        SqliteWriter.Write(Path.Combine(root, "data", "app.db"), 300);
        File.WriteAllText(Path.Combine(root, "data", "c.yml"), "dbs:\n  - path: /data/app.db\n    replica:\n      url: file:///data/replica\n");
        ProcessResult once = Processes.Run("chroot", [root, "/usr/local/bin/litestream", "replicate", "-once", "-config", "/data/c.yml"]);
        Assert.True(once.ExitCode == 0, once.Output);
        ProcessResult restore = Processes.Run("chroot", [root, "/usr/local/bin/litestream", "restore", "-o", "/data/out.db", "file:///data/replica"]);
        Assert.True(restore.ExitCode == 0, restore.Output);
        Assert.Equal(SqliteWriter.Dump(Path.Combine(root, "data", "app.db")), SqliteWriter.Dump(Path.Combine(root, "data", "out.db")));
    }

    [RequiresFact(Need.Exe, Need.Root)]
    public void Chroot_WithoutDevUrandom_S3FailureNamesIt()
    {
        // Issue 18: "Error occurred during a cryptographic operation." named nothing to fix.
        string root = Path.Combine(TestRepo.TempDir(), "rootfs");
        ProcessResult built = Processes.Run("bash", [TestRepo.Path("deploy", "rootfs.sh"), root, Exe.Path!], TimeSpan.FromMinutes(10));
        Assert.True(built.ExitCode == 0, built.Output);
        Assert.False(File.Exists(Path.Combine(root, "dev", "urandom")));
        ProcessResult r = Processes.Run("chroot", [root, "/usr/local/bin/litestream", "restore", "-o", "/data/out.db", "s3://bkt/app.db?endpoint=http://127.0.0.1:9"],
            env: new Dictionary<string, string?> { ["LITESTREAM_ACCESS_KEY_ID"] = "AKIDEXAMPLEKEY", ["LITESTREAM_SECRET_ACCESS_KEY"] = "example-secret-key" });
        Assert.Equal((1,
            "error: s3: list s3://bkt/app.db/0000/: /dev/urandom does not exist, and .NET reads random bytes from it (Error occurred during a cryptographic operation.)\n"
            + "hint: provide /dev/urandom (mount /dev into the chroot or container, or: mknod -m 666 /dev/urandom c 1 9)\n"), (r.ExitCode, r.Stderr));
    }
}
