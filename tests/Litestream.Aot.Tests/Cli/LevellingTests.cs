using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Storage stays bounded: the published exe replicates a writer that commits continuously for about 80 s with
/// every interval shortened to seconds (levels 1 s / 3 s / 6 s, snapshots every 10 s kept 20 s, L0 kept 3 s).
/// The replica's file count and bytes are sampled every second and must level off while the number of files
/// ever written keeps growing; then restores to random surviving points, by -txid and by -timestamp, must give
/// exactly the state the writer recorded (a content hash per transaction, the transaction number stored in the
/// database itself).
/// </summary>
[Requires(Need.Python)]
public class LevellingTests(ITestOutputHelper output)
{
    private sealed record Sample(double Seconds, int Files, long Bytes);

    [RequiresFact(Need.Exe)]
    public void ShortIntervals_StorageLevelsOff_AndSurvivingPointsRestoreExactly()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica"), log = Path.Combine(dir, "writer.log");
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $$"""
            levels: [{interval: 1s}, {interval: 3s}, {interval: 6s}]
            snapshot: {interval: 10s, retention: 20s}
            l0-retention: 3s
            l0-retention-check-interval: 1s
            dbs:
              - path: {{db}}
                checkpoint-interval: 5s
                replica:
                  url: file://{{replica}}
                  sync-interval: 200ms
            """);
        const double WriterSeconds = 80;
        // Each transaction rewrites a few rows of a fixed-size table and stores its own sequence number; after the
        // commit the writer appends "seq unix-time-before-commit sha256(rows)" to its log.
        using BackgroundProcess writer = SqliteWriter.Start(db, SqliteWriter.Kind.Levels, new Workload { Seconds = WriterSeconds, Log = log, Pause = 0.015, BusyTimeoutMs = 10_000 });
        Wait.Until(() => File.Exists(db + "-wal"), "the writer to open its WAL", writer);
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);

        var samples = new List<Sample>();
        var everSeen = new Dictionary<string, long>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        while (!writer.HasExited)
        {
            Thread.Sleep(1000); // the sampling period, not a wait for something
            FileInfo[] files = Directory.Exists(replica) ? new DirectoryInfo(replica).GetFiles("*.ltx", SearchOption.AllDirectories) : [];
            samples.Add(new Sample(clock.Elapsed.TotalSeconds, files.Length, files.Sum(f => f.Length)));
            foreach (FileInfo f in files)
            {
                everSeen[Path.GetRelativePath(replica, f.FullName)] = f.Length;
            }
            Assert.False(daemon.HasExited, daemon.Output);
        }
        writer.WaitForSuccess(TimeSpan.FromMinutes(2));
        Assert.Equal(0, daemon.Stop());
        foreach (Sample s in samples)
        {
            output.WriteLine($"{s.Seconds,5:0} s  {s.Files,4} files  {s.Bytes,9} bytes");
        }
        double seconds = samples[^1].Seconds;
        double filesWritten = everSeen.Count / seconds, bytesWritten = everSeen.Values.Sum() / seconds;
        output.WriteLine($"files ever written (seen): {everSeen.Count} ({filesWritten:0.0}/s, {bytesWritten / 1024:0} KiB/s)");
        foreach (string line in daemon.Output.Split('\n').Where(l => l.Contains("level=WARN", StringComparison.Ordinal) || l.Contains("level=ERROR", StringComparison.Ordinal)))
        {
            output.WriteLine(line);
        }
        // Retention and compaction move TXIDs between levels all the time; the replicator's own check that the
        // replica still holds what it wrote must never mistake that for files lost (an extra snapshot each time).
        Assert.DoesNotContain("no longer has txid", daemon.Output);

        // Level off: once snapshot retention is in effect (from 30 s) the stored files and bytes follow a saw
        // tooth with the 10 s snapshot cycle around a flat line. Its least-squares slope must be a small part of
        // the rate at which files and bytes are written (without retention the two would be equal), and the
        // files left at the end a small part of those written.
        Sample[] warm = [.. samples.Where(s => s.Seconds >= 30)];
        Assert.True(warm.Length >= 30, $"only {warm.Length} samples after warm-up (writer too slow?)");
        double fileSlope = Slope(warm, s => s.Files), byteSlope = Slope(warm, s => s.Bytes);
        output.WriteLine($"after 30 s: {fileSlope:0.00} files/s, {byteSlope / 1024:0.0} KiB/s");
        Assert.True(fileSlope < 0.2 * filesWritten, $"files still growing: {fileSlope:0.00}/s while {filesWritten:0.0}/s are written");
        Assert.True(byteSlope < 0.2 * bytesWritten, $"bytes still growing: {byteSlope / 1024:0.0} KiB/s while {bytesWritten / 1024:0} KiB/s are written");
        Assert.True(everSeen.Count >= 3 * samples[^1].Files, $"retention removed too little: {everSeen.Count} files seen, {samples[^1].Files} left");

        // Every surviving point restores to exactly the writer's state at that transaction.
        var recorded = File.ReadAllLines(log).Select(l => l.Split(' ')).ToDictionary(p => long.Parse(p[0], CultureInfo.InvariantCulture), p => (Time: double.Parse(p[1], CultureInfo.InvariantCulture), Hash: p[2]));
        var listing = new List<(int Level, ulong Max, DateTimeOffset Created)>();
        using (JsonDocument files = JsonDocument.Parse(Exe.Run("ltx", "-json", "-level", "all", "file://" + replica).Stdout))
        {
            foreach (JsonElement f in files.RootElement.EnumerateArray())
            {
                listing.Add((f.GetProperty("level").GetInt32(), Convert.ToUInt64(f.GetProperty("max_txid").GetString(), 16), DateTimeOffset.Parse(f.GetProperty("created").GetString()!, CultureInfo.InvariantCulture)));
            }
        }
        ulong oldestSnapshot = listing.Where(f => f.Level == 9).Min(f => f.Max);
        ulong[] points = [.. listing.Select(f => f.Max).Where(t => t >= oldestSnapshot).Distinct().Order()];
        var rnd = new Random(11);
        ulong[] txids = [points[0], points[^1], .. Enumerable.Range(0, 6).Select(_ => points[rnd.Next(points.Length)])];
        long previousSeq = -1;
        foreach (ulong txid in txids.Distinct().Order())
        {
            long seq = RestoreAndCheck(["-txid", txid.ToString("x16", CultureInfo.InvariantCulture)], $"txid-{txid}", recorded, dir, replica);
            Assert.True(seq >= previousSeq, $"txid {txid} restored writer transaction {seq}, an earlier txid gave {previousSeq}");
            previousSeq = seq;
        }
        DateTimeOffset from = listing.Where(f => f.Level == 9).Min(f => f.Created), to = listing.Max(f => f.Created);
        previousSeq = -1;
        foreach (double fraction in new[] { 0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95 })
        {
            string at = (from + (to - from) * fraction).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            long seq = RestoreAndCheck(["-timestamp", at], $"ts-{fraction}", recorded, dir, replica);
            Assert.True(recorded[seq].Time <= DateTimeOffset.Parse(at, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds() / 1000.0, $"-timestamp {at} restored transaction {seq}, committed later at {recorded[seq].Time}");
            Assert.True(seq >= previousSeq, $"-timestamp {at} restored transaction {seq}, an earlier timestamp gave {previousSeq}");
            previousSeq = seq;
        }
        Assert.Equal(recorded.Keys.Max(), RestoreAndCheck([], "latest", recorded, dir, replica));
    }

    private static double Slope(Sample[] samples, Func<Sample, double> value)
    {
        double meanX = samples.Average(s => s.Seconds), meanY = samples.Average(value);
        return samples.Sum(s => (s.Seconds - meanX) * (value(s) - meanY)) / samples.Sum(s => (s.Seconds - meanX) * (s.Seconds - meanX));
    }

    private static long RestoreAndCheck(string[] target, string name, Dictionary<long, (double Time, string Hash)> recorded, string dir, string replica)
    {
        string output = Path.Combine(dir, name + ".db");
        ProcessResult r = Exe.Run(["restore", "-o", output, .. target, "file://" + replica]);
        Assert.True(r.ExitCode == 0, $"restore {string.Join(' ', target)}: {r.Stderr}");
        string[] state = SqliteWriter.Dump(output).Trim().Split(' '); // integrity, rows, sha256
        Assert.Equal("ok", state[0]);
        long seq = long.Parse(SqliteWriter.Scalar(output, "SELECT seq FROM meta"), CultureInfo.InvariantCulture);
        Assert.True(recorded.ContainsKey(seq), $"restore {string.Join(' ', target)} gave transaction {seq}, which the writer never logged");
        Assert.Equal(recorded[seq].Hash, state[2]);
        return seq;
    }
}
