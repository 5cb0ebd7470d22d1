namespace Litestream.Aot.Tests.Deploy;

/// <summary>
/// <c>./publish.sh --backends file</c>: a binary with only the file backend. It names the one backend it has,
/// refuses another backend's replica with one error line that says the build left it out and a hint, still
/// replicates and restores a file replica, and is smaller than the full build (the trimmer dropped the S3,
/// Azure and SFTP clients and their SDKs).
/// </summary>
[Requires(Need.Exe, Need.Sqlite3)]
public sealed class BackendSubsetTests : IClassFixture<BackendSubsetTests.FileOnlyBuild>
{
    private readonly FileOnlyBuild _build;

    public BackendSubsetTests(FileOnlyBuild build) => _build = build;

    /// <summary>Publishes the file-only binary once for the class (its own output and intermediate folders).</summary>
    public sealed class FileOnlyBuild
    {
        private readonly Lazy<ProcessResult> _publish = new(() => Processes.Run("bash", [Path.Combine(TestRepo.Root!, "publish.sh"), "--backends", "file"], TimeSpan.FromMinutes(20)));

        public string Binary => Path.Combine(TestRepo.Root!, "bin", "linux-x64-file", "litestream");

        public string Log => _publish.Value.Output;

        public ProcessResult Run(params string[] args)
        {
            Assert.True(_publish.Value.ExitCode == 0, $"publish.sh --backends file failed:\n{Log}");
            return Processes.Run(Binary, args);
        }
    }

    [RequiresFact]
    public void VersionVerbose_NamesOnlyTheFileBackend_AndTheBinaryIsSmallerThanTheFullOne()
    {
        ProcessResult r = _build.Run("version", "-verbose");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("backends: file", r.Stdout.Split('\n'));
        Assert.Contains("bin/linux-x64-file/litestream: ", _build.Log, StringComparison.Ordinal);
        long subset = new FileInfo(_build.Binary).Length, full = new FileInfo(TestRepo.Exe!).Length;
        Assert.True(subset < full * 3 / 4, $"file-only {subset} bytes, full {full} bytes");
    }

    [RequiresTheory]
    [InlineData("abs://account@container/db", "abs")]
    [InlineData("s3://bucket/db", "s3")]
    public void Restore_FromABackendTheBuildLeftOut_OneErrorSayingSoAndAHint(string url, string backend)
    {
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        ProcessResult r = _build.Run("restore", "-o", output, url);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([
            $"error: this build has no \"{backend}\" backend (built with: file) ({url})",
            $"hint: use a litestream binary built with every backend (./publish.sh without --backends), or one built with --backends file,{backend}",
        ], r.Stderr.TrimEnd().Split('\n'));
        Assert.False(File.Exists(output));
    }

    [RequiresFact]
    public void ReplicateOnceAndRestore_FileReplica_Works()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica"), restored = Path.Combine(dir, "restored.db");
        Processes.RunOk("sqlite3", [db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);"]);
        Assert.Equal(0, _build.Run("replicate", "-once", db, "file://" + replica).ExitCode);
        Assert.Equal(0, _build.Run("restore", "-o", restored, "file://" + replica).ExitCode);
        Assert.Equal("6\n", Processes.RunOk("sqlite3", [restored, "SELECT sum(x) FROM t;"]));
    }
}
