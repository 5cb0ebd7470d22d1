using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage.File;

namespace Litestream.Tests.Restore;

public class RestorerTests
{
    private static string CopyReplica()
    {
        string dir = TestRepo.TempDir();
        string source = TestRepo.SpecFile("synthetic/replica-file");
        foreach (string file in Directory.EnumerateFiles(source, "*.ltx", SearchOption.AllDirectories))
        {
            string target = Path.Combine(dir, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return dir;
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_SyntheticLatest_ByteIdenticalToExpected()
    {
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        var client = new FileReplicaClient(TestRepo.SpecFile("synthetic/replica-file"));
        RestoreResult result = await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, CancellationToken.None);
        Assert.Equal("L9:0000000000000001-0000000000000002", string.Join(",", result.Plan.Select(f => $"L{f.Level}:{f.MinTxid}-{f.MaxTxid}")));
        Assert.Equal(new Txid(2), result.Txid);
        Assert.Equal(File.ReadAllBytes(TestRepo.SpecFile("synthetic/replica-file/expected-txid2.db")), File.ReadAllBytes(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_SyntheticTxid1_ByteIdenticalToExpected()
    {
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        var client = new FileReplicaClient(TestRepo.SpecFile("synthetic/replica-file"));
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Txid = new Txid(1) }, CancellationToken.None);
        Assert.Equal(File.ReadAllBytes(TestRepo.SpecFile("synthetic/replica-file/expected-txid1.db")), File.ReadAllBytes(output));
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_L0ChainOnly_EqualsExpected()
    {
        string replica = CopyReplica();
        Directory.Delete(Path.Combine(replica, "ltx", "9"), true);
        Directory.Delete(Path.Combine(replica, "ltx", "1"), true);
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        RestoreResult result = await Restorer.RestoreAsync(new FileReplicaClient(replica), new RestoreOptions { OutputPath = output }, CancellationToken.None);
        Assert.Equal(2, result.Plan.Count);
        Assert.Equal(File.ReadAllBytes(TestRepo.SpecFile("synthetic/replica-file/expected-txid2.db")), File.ReadAllBytes(output));
    }

    /// <summary>The spec replica's L0 chain with one byte of its second file flipped.</summary>
    private static string DamagedL0Chain()
    {
        string replica = CopyReplica();
        Directory.Delete(Path.Combine(replica, "ltx", "9"), true);
        Directory.Delete(Path.Combine(replica, "ltx", "1"), true);
        string damaged = Path.Combine(replica, "ltx", "0", "0000000000000002-0000000000000002.ltx");
        byte[] bytes = File.ReadAllBytes(damaged);
        bytes[3000] ^= 0x5a;
        File.WriteAllBytes(damaged, bytes);
        return replica;
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_BitFlippedFile_ErrorNamesFileAndLeavesNoOutput()
    {
        string replica = DamagedL0Chain();
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        var error = await Assert.ThrowsAnyAsync<LtxFormatException>(async () =>
            await Restorer.RestoreAsync(new FileReplicaClient(replica), new RestoreOptions { OutputPath = output }, CancellationToken.None));
        Assert.StartsWith("ltx/0/0000000000000002-0000000000000002.ltx: ", error.Message);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_TruncatedFile_ErrorAndNoOutput()
    {
        string replica = CopyReplica();
        Directory.Delete(Path.Combine(replica, "ltx", "9"), true);
        Directory.Delete(Path.Combine(replica, "ltx", "1"), true);
        string damaged = Path.Combine(replica, "ltx", "0", "0000000000000002-0000000000000002.ltx");
        using (var f = new FileStream(damaged, FileMode.Open))
        {
            f.SetLength(9000);
        }
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        var error = await Assert.ThrowsAnyAsync<LtxFormatException>(async () =>
            await Restorer.RestoreAsync(new FileReplicaClient(replica), new RestoreOptions { OutputPath = output }, CancellationToken.None));
        Assert.Contains("unexpected end of file", error.Message);
        Assert.False(File.Exists(output));
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_ExistingOutput_RefusedUnlessForce()
    {
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        File.WriteAllText(output, "keep me");
        var client = new FileReplicaClient(TestRepo.SpecFile("synthetic/replica-file"));
        var error = await Assert.ThrowsAnyAsync<IOException>(async () =>
            await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, CancellationToken.None));
        Assert.Equal($"output file already exists: {output}", error.Message);
        Assert.Equal("keep me", File.ReadAllText(output));
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Force = true }, CancellationToken.None);
        Assert.Equal(98304, new FileInfo(output).Length);
    }

    /// <summary>-force replaces the old database only once the new one is verified: a failed forced restore leaves it, and its WAL, as they were.</summary>
    [RequiresFact(Need.Spec)]
    public async Task Restore_ForceFromADamagedReplica_LeavesTheOldDatabaseAndItsWal()
    {
        string replica = DamagedL0Chain();
        string dir = TestRepo.TempDir();
        string output = Path.Combine(dir, "out.db");
        File.WriteAllText(output, "old database");
        File.WriteAllText(output + "-wal", "its wal");

        await Assert.ThrowsAnyAsync<LtxFormatException>(async () =>
            await Restorer.RestoreAsync(new FileReplicaClient(replica), new RestoreOptions { OutputPath = output, Force = true }, CancellationToken.None));
        Assert.Equal("old database", File.ReadAllText(output));
        Assert.Equal("its wal", File.ReadAllText(output + "-wal"));
        Assert.Equal([output, output + "-wal"], Directory.GetFiles(dir).Order());
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_Cancelled_LeavesNothing_AndAnExistingDatabaseAsItWas()
    {
        string dir = TestRepo.TempDir();
        string output = Path.Combine(dir, "out.db");
        File.WriteAllText(output, "old database");
        var client = new FileReplicaClient(TestRepo.SpecFile("synthetic/replica-file"));
        RestorePlan source = await RestorePlan.CreateAsync(client, Txid.Zero, null, default);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        // A signal after planning: local files need no cancellable I/O, so the restore itself must look.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await Restorer.RestoreAsync(client, source, new RestoreOptions { OutputPath = output, Force = true }, cancelled.Token));
        Assert.Equal("old database", File.ReadAllText(output));
        Assert.Equal([output], Directory.GetFiles(dir));
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_EmptyOutputFile_Replaced()
    {
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        File.WriteAllBytes(output, []);
        await Restorer.RestoreAsync(new FileReplicaClient(TestRepo.SpecFile("synthetic/replica-file")), new RestoreOptions { OutputPath = output }, CancellationToken.None);
        Assert.Equal(98304, new FileInfo(output).Length);
    }
}
