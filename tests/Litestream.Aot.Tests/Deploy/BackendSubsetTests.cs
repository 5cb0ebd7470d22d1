using Litestream.Aot.Tests.Cli;

namespace Litestream.Aot.Tests.Deploy;

/// <summary>
/// <c>./publish.sh --backends file</c>: a binary with only the file backend. It names the one backend it has,
/// refuses another backend's replica with one error line that says the build left it out and a hint, still
/// replicates and restores a file replica, and is smaller than the full build (the trimmer dropped the S3 and
/// Azure clients and their SDKs).
/// </summary>
public sealed class BackendSubsetTests : IClassFixture<BackendSubsetTests.FileOnlyBuild>
{
    private readonly FileOnlyBuild _build;

    public BackendSubsetTests(FileOnlyBuild build) => _build = build;

    /// <summary>Publishes the file-only binary once for the class (its own output and intermediate folders).</summary>
    public sealed class FileOnlyBuild
    {
        public FileOnlyBuild()
        {
            if (Exe.RepoRoot is null)
            {
                return;
            }
            (ExitCode, Log) = Exe.Tool("bash", Path.Combine(Exe.RepoRoot, "publish.sh"), "--backends", "file");
            Binary = Path.Combine(Exe.RepoRoot, "bin", "linux-x64-file", "litestream");
        }

        public int ExitCode { get; } = -1;
        public string Log { get; } = "";
        public string Binary { get; } = "";

        public (int Code, string[] Lines) Run(params string[] args)
        {
            Assert.True(ExitCode == 0, $"publish.sh --backends file failed:\n{Log}");
            (int code, string output) = Exe.Tool(Binary, args);
            return (code, output.TrimEnd().Split('\n'));
        }
    }

    [ExeFact]
    public void VersionVerbose_NamesOnlyTheFileBackend_AndTheBinaryIsSmallerThanTheFullOne()
    {
        (int code, string[] lines) = _build.Run("version", "-verbose");
        Assert.Equal(0, code);
        Assert.Contains("backends: file", lines);
        Assert.Contains("bin/linux-x64-file/litestream: ", _build.Log, StringComparison.Ordinal);
        Assert.True(new FileInfo(_build.Binary).Length < new FileInfo(Exe.Path!).Length * 3 / 4,
            $"file-only {new FileInfo(_build.Binary).Length} bytes, full {new FileInfo(Exe.Path!).Length} bytes");
    }

    [ExeTheory]
    [InlineData("abs://account@container/db", "abs")]
    [InlineData("s3://bucket/db", "s3")]
    public void Restore_FromABackendTheBuildLeftOut_OneErrorSayingSoAndAHint(string url, string backend)
    {
        string output = Path.Combine(Exe.TempDir(), "out.db");
        (int code, string[] lines) = _build.Run("restore", "-o", output, url);
        Assert.Equal(1, code);
        Assert.Equal([
            $"error: this build has no \"{backend}\" backend (built with: file) ({url})",
            $"hint: use a litestream binary built with every backend (./publish.sh without --backends), or one built with --backends file,{backend}",
        ], lines);
        Assert.False(File.Exists(output));
    }

    [ExeFact]
    public void ReplicateOnceAndRestore_FileReplica_Works()
    {
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica"), restored = Path.Combine(dir, "restored.db");
        Assert.Equal(0, Exe.Tool("sqlite3", db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3);").Code);
        Assert.Equal(0, _build.Run("replicate", "-once", db, "file://" + replica).Code);
        Assert.Equal(0, _build.Run("restore", "-o", restored, "file://" + replica).Code);
        Assert.Equal((0, "6\n"), Exe.Tool("sqlite3", restored, "SELECT sum(x) FROM t;"));
    }
}
