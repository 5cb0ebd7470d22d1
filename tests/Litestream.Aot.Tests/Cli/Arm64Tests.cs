namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The cross-published linux-arm64 binary, run on this x64 machine under qemu-user: version, and a
/// replicate → restore round trip of a live database on a file replica.
/// </summary>
[Requires(Need.Python)]
public class Arm64Tests
{
    // Emulated, the exe is ten to fifty times slower than native, more so on a busy machine.
    private static readonly TimeSpan s_limit = TimeSpan.FromMinutes(10);

    private static string[] Qemu(params string[] args) => ["-L", "/usr/aarch64-linux-gnu", TestRepo.Path("bin", "linux-arm64", "litestream"), .. args];

    private static ProcessResult Run(params string[] args) => Processes.Run(Prerequisites.Qemu!, Qemu(args), s_limit);

    [RequiresFact(Need.Arm64Exe, Need.Qemu)]
    public void Version_UnderQemu_ReportsArm64()
    {
        ProcessResult version = Run("version");
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^v\d+\.\d+\.\d+-aot \(sqlite 3\.\d+\.\d+, linux-arm64\)\n$", version.Stdout);
    }

    [RequiresFact(Need.Arm64Exe, Need.Qemu)]
    public void ReplicateRestore_UnderQemu_ContentEqual()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, new Workload { Commits = 100, Pad = 300 });
        string replica = Path.Combine(dir, "replica");
        using (var replicate = new BackgroundProcess(Prerequisites.Qemu!, Qemu("replicate", db, $"file://{replica}")))
        {
            // The first sync ships the existing database; commits made after it are replicated while it runs.
            Wait.Until(() => FileReplica.NewestL0Txid(replica) > 0, "the first sync under qemu", replicate, s_limit);
            ulong first = FileReplica.NewestL0Txid(replica);
            SqliteWriter.Write(db, new Workload { Commits = 500, Pad = 300 });
            Wait.Until(() => FileReplica.NewestL0Txid(replica) > first, "the new commits to reach the replica under qemu", replicate, s_limit);
            Assert.Equal(0, replicate.Stop(s_limit));
        }
        ProcessResult restore = Run("restore", "-o", Path.Combine(dir, "out.db"), $"file://{replica}");
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(Path.Combine(dir, "out.db")));
    }
}
