using Litestream.Aot.Config;
using Litestream.Aot.Directories;
using Litestream.Replication;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>The <c>dir:</c> watch in-process, beside a <see cref="Db"/> that replicates one of its databases.</summary>
[Requires(Need.Python)]
public class DatabaseDirectoryTests
{
    [RequiresFact]
    public async Task WatchAsync_RescanBesideAReplicatedDatabase_LeavesItsSqliteLockHeld()
    {
        // Opening and closing a database file drops every POSIX lock this process holds on it, SQLite's SHARED lock
        // included; a writer's last close then takes the EXCLUSIVE lock and deletes the WAL with commits no replicator
        // read (the dir: CI failure). The watch's first rescan must list a replicated database without opening it.
        string root = TestRepo.TempDir();
        string a = Path.Combine(root, "a.db"), b = Path.Combine(root, "b.db");
        SqliteWriter.Write(a, new Workload { Commits = 3 });
        SqliteWriter.Write(b, new Workload { Commits = 3 });
        LitestreamConfig config = ConfigLoader.Parse($"dbs:\n  - dir: {root}\n    pattern: \"*.db\"\n    watch: true\n    replica: {{path: {root}-replica}}\n", root);
        await using var db = new Db(a);
        db.Open();
        var directory = new DatabaseDirectory(config.Dbs[0], NullLogger.Instance);
        var rescanned = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        // b is new to the watch: it is added after the rescan that read every header it had to.
        Task watching = directory.WatchAsync([a], path =>
        {
            rescanned.TrySetResult(path);
            return Task.CompletedTask;
        }, _ => Task.CompletedTask, stop.Token);
        Assert.Equal(b, await rescanned.Task.WaitAsync(TimeSpan.FromMinutes(1)));

        SqliteWriter.Write(a, new Workload { Commits = 2 });
        Assert.True(File.Exists(a + "-wal"), "the writer's close deleted the WAL: this process's SHARED lock on a.db was dropped");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => watching);
    }
}
