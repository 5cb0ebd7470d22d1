using System.Security.Cryptography;
using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage;
using Litestream.Storage.File;

namespace Litestream.Tests.Restore;

/// <summary>Restores of Litestream v0.3 generations (V03-FORMAT.md), from the upstream fixture.</summary>
public class LegacyRestorerTests
{
    /// <summary>The fixture uses the unreleased v0.4-dev names; map them to v0.3's as testdata/README.md says.</summary>
    private static string MapFixture(string fixture)
    {
        string source = TestRepo.SpecFile($"litestream-f29a6cd/testdata/restore/{fixture}/generations/0000000000000000");
        string root = TestRepo.TempDir();
        string gen = Path.Combine(root, "generations", "0000000000000000");
        Directory.CreateDirectory(Path.Combine(gen, "snapshots"));
        Directory.CreateDirectory(Path.Combine(gen, "wal"));
        foreach (string snapshot in Directory.GetFiles(Path.Combine(source, "snapshots")))
        {
            uint index = Convert.ToUInt32(Path.GetFileName(snapshot)[..16], 16);
            File.Copy(snapshot, Path.Combine(gen, "snapshots", LegacyNames.Snapshot(index)));
        }
        if (Directory.Exists(Path.Combine(source, "wal")))
        {
            foreach (string indexDir in Directory.GetDirectories(Path.Combine(source, "wal")))
            {
                uint index = Convert.ToUInt32(Path.GetFileName(indexDir), 16);
                foreach (string segment in Directory.GetFiles(indexDir))
                {
                    long offset = Convert.ToInt64(Path.GetFileName(segment)[..16], 16);
                    File.Copy(segment, Path.Combine(gen, "wal", LegacyNames.WalSegment(index, offset)));
                }
            }
        }
        return root;
    }

    private static ILegacyReplicaClient Legacy(string root) => LegacyReplicaReader.For(new FileReplicaClient(root))!;

    [RequiresFact(Need.Spec)]
    public async Task Restore_UpstreamFixtureOk_ByteIdenticalToExpected()
    {
        var client = Legacy(MapFixture("ok"));
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        (LegacySnapshotInfo snapshot, int segments) = await LegacyRestorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);
        Assert.Equal(("0000000000000000", 0u, 6), (snapshot.Generation, snapshot.Index, segments));
        Assert.Equal("b8a2decaed59e8109608a05c6c5014be4e8c2f4c08d598fa6ff89df5623ed5cf", Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(output))));
        Assert.False(File.Exists(output + ".tmp-wal"));
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_ReplicaWithOnlyV03Generations_RestoresTheNewestGeneration()
    {
        var client = new FileReplicaClient(MapFixture("ok"));
        string output = Path.Combine(TestRepo.TempDir(), "out.db");

        RestoreResult result = await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);

        Assert.Equal("0000000000000000", result.LegacyGeneration);
        Assert.Empty(result.Plan);
        Assert.Equal((long)result.Commit * result.PageSize, new FileInfo(output).Length);
        Assert.Equal("b8a2decaed59e8109608a05c6c5014be4e8c2f4c08d598fa6ff89df5623ed5cf", Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(output))));
    }

    [Fact]
    public async Task TryCreatePlan_EmptyReplica_NullAndNoOutput()
    {
        string root = TestRepo.TempDir();
        var client = new FileReplicaClient(Path.Combine(root, "replica"));
        string output = Path.Combine(root, "out.db");

        Assert.Null(await RestorePlan.TryCreateAsync(client, Txid.Zero, null, default));
        Assert.False(File.Exists(output));
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_SnapshotOnly_EqualsExpected()
    {
        var client = Legacy(MapFixture("snapshot-only"));
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        await LegacyRestorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);
        Assert.Equal(File.ReadAllBytes(TestRepo.SpecFile("litestream-f29a6cd/testdata/restore/snapshot-only/0000000000000000.db")), File.ReadAllBytes(output));
    }

    [RequiresFact(Need.Spec)]
    public async Task Restore_MissingSegment_ErrorAndNoOutput()
    {
        string root = MapFixture("ok");
        File.Delete(Path.Combine(root, "generations", "0000000000000000", "wal", LegacyNames.WalSegment(0, 0x2050)));
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        var error = await Assert.ThrowsAsync<InvalidDataException>(async () =>
            await LegacyRestorer.RestoreAsync(Legacy(root), new RestoreOptions { OutputPath = output }, default));
        Assert.Equal("missing WAL segment in generation 0000000000000000: index 00000000 jumps from offset 8272 to 12392", error.Message);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }
}
