using System.Globalization;

namespace Litestream.Testing;

/// <summary>
/// What a writer does: how many commits (or for how long, or until a stop file appears), how many rows each, what
/// the rows hold, how it pauses, and the PRAGMAs and one-shot events (a checkpoint from another connection, a
/// delete and VACUUM) the test needs. The defaults write one text row per commit.
/// </summary>
public sealed record Workload
{
    /// <summary>Commits to make (0: until <see cref="Seconds"/> or <see cref="StopFile"/>; with neither, only the schema).</summary>
    public int Commits { get; init; }

    /// <summary>How long to keep committing.</summary>
    public double Seconds { get; init; }

    /// <summary>Stop once this file exists.</summary>
    public string? StopFile { get; init; }

    /// <summary>Number of the first row: text values carry it, and it seeds the random values unless <see cref="Seed"/> does.</summary>
    public int Start { get; init; }

    /// <summary>Rows per transaction as weighted choices, e.g. "1:49,5" (mostly one row, sometimes five).</summary>
    public string Batch { get; init; } = "1";

    /// <summary>Text rows: "row&lt;i&gt;-" followed by i % Pad x's (0: just "row&lt;i&gt;").</summary>
    public int Pad { get; init; }

    /// <summary>Blob rows of random bytes instead of text, their sizes as weighted choices, e.g. "10,300,3000,9000".</summary>
    public string? Sizes { get; init; }

    public int? Seed { get; init; }

    /// <summary>Seconds to sleep after every <see cref="PauseEvery"/>'th commit.</summary>
    public double Pause { get; init; }

    public int PauseEvery { get; init; } = 1;

    public int BusyTimeoutMs { get; init; } = 5000;

    /// <summary>PRAGMA synchronous (off, normal, full, extra); null leaves SQLite's default.</summary>
    public string? Synchronous { get; init; }

    public int? PageSize { get; init; }

    /// <summary>A file each commit appends its line to (the last row id) once COMMIT returned.</summary>
    public string? Log { get; init; }

    /// <summary>Also records every id in ids(id), which <see cref="Prune"/> never touches (for gap checks).</summary>
    public bool Ledger { get; init; }

    /// <summary>A WHERE clause ({id}: the newest id) deleted in every <see cref="PruneEvery"/>'th transaction.</summary>
    public string? Prune { get; init; }

    public int PruneEvery { get; init; } = 1;

    /// <summary>A WHERE clause deleted once, after <see cref="DeleteAfter"/> commits (0: at the end), then VACUUM if <see cref="Vacuum"/>.</summary>
    public string? Delete { get; init; }

    public int DeleteAfter { get; init; }

    public bool Vacuum { get; init; }

    /// <summary>A checkpoint mode (PASSIVE, FULL, RESTART, TRUNCATE) run once from another connection after <see cref="CheckpointAfter"/> commits (0: at the end).</summary>
    public string? Checkpoint { get; init; }

    public int CheckpointAfter { get; init; }

    /// <summary>
    /// End as a killed process would, without closing the database: no checkpoint on close (nor automatic ones
    /// before), so the -wal keeps every frame and the -shm stays.
    /// </summary>
    public bool Abandon { get; init; }

    /// <summary>Count a commit that failed busy and go on (the summary's second field) instead of failing.</summary>
    public bool TolerateBusy { get; init; }

    internal IEnumerable<string> Arguments()
    {
        static string N(double value) => value.ToString(CultureInfo.InvariantCulture);
        var args = new List<string> { "--batch", Batch, "--busy-timeout", N(BusyTimeoutMs) };
        void Add(string name, object? value, bool when = true)
        {
            if (value is not null && when)
            {
                args.AddRange([name, value is double d ? N(d) : Convert.ToString(value, CultureInfo.InvariantCulture)!]);
            }
        }
        Add("--commits", Commits, Commits > 0);
        Add("--seconds", Seconds, Seconds > 0);
        Add("--stop", StopFile);
        Add("--start", Start, Start != 0);
        Add("--pad", Pad, Pad > 0);
        Add("--sizes", Sizes);
        Add("--seed", Seed);
        Add("--pause", Pause, Pause > 0);
        Add("--pause-every", PauseEvery, PauseEvery != 1);
        Add("--synchronous", Synchronous);
        Add("--page-size", PageSize);
        Add("--log", Log);
        Add("--prune", Prune);
        Add("--prune-every", PruneEvery, Prune is not null);
        Add("--delete", Delete);
        Add("--delete-after", DeleteAfter, Delete is not null);
        Add("--checkpoint", Checkpoint);
        Add("--checkpoint-after", CheckpointAfter, Checkpoint is not null);
        if (Vacuum)
        {
            args.Add("--vacuum");
        }
        if (Ledger)
        {
            args.Add("--ledger");
        }
        if (Abandon)
        {
            args.Add("--abandon");
        }
        if (TolerateBusy)
        {
            args.Add("--tolerate-busy");
        }
        return args;
    }
}

/// <summary>
/// The application whose database the tests replicate: a real SQLite writer in another process (python3's sqlite3,
/// tests/Shared/sqlite_writer.py), and the checks run on what it wrote and on what a restore produced.
/// </summary>
public static class SqliteWriter
{
    /// <summary>Purpose-built workloads over their own schema (sqlite_writer.py describes each).</summary>
    public enum Kind
    {
        /// <summary>Random updates of t; the log holds "seq time-before-commit digest" per commit (point-in-time oracle).</summary>
        Levels,
        /// <summary>Transfers between two accounts whose balances always sum to 1000 (read consistency).</summary>
        Transfers,
        /// <summary>One commit per pause (slept before it) of s.k = n and a history row; the log holds "n commit-ms" per commit.</summary>
        Ticks,
    }

    private static string Script => Path.Combine(AppContext.BaseDirectory, "sqlite_writer.py");

    /// <summary>Python that makes <c>digest(connection)</c> (the row count and SHA-256 <see cref="Dump"/> prints) available to a reader script.</summary>
    public static string ImportDigest => $"import sys\nsys.path.insert(0, {Python.Literal(AppContext.BaseDirectory)})\nfrom sqlite_writer import digest\n";

    /// <summary>Writes <paramref name="commits"/> one-row commits of text rows (creating the database in WAL mode when needed).</summary>
    public static string Write(string db, int commits, int start = 0) => Write(db, new Workload { Commits = commits, Start = start });

    /// <summary>
    /// Runs <paramref name="workload"/> on <paramref name="db"/> to its end; fails the test unless the writer exits 0; returns what it printed:
    /// "checkpoint MODE busy log checkpointed" when it checkpointed, then the summary "commits busy slowest".
    /// </summary>
    public static string Write(string db, Workload workload) => Run(["write", db, .. workload.Arguments()]);

    /// <summary>Runs a purpose-built workload to its end (with no commits, seconds or stop file: creates its schema); returns its summary.</summary>
    public static string Write(string db, Kind kind, Workload workload) => Run(["workload", kind.ToString().ToLowerInvariant(), db, .. workload.Arguments()]);

    /// <summary>Starts <paramref name="workload"/> beside the test (it ends by itself, or by its stop file; disposing kills it).</summary>
    public static BackgroundProcess Start(string db, Workload workload) => new(Python.Executable, [Script, "write", db, .. workload.Arguments()]);

    /// <summary>Starts a purpose-built workload beside the test.</summary>
    public static BackgroundProcess Start(string db, Kind kind, Workload workload)
        => new(Python.Executable, [Script, "workload", kind.ToString().ToLowerInvariant(), db, .. workload.Arguments()]);

    /// <summary>A shell command line that runs <paramref name="workload"/> (for a program that starts the application itself: replicate -exec).</summary>
    public static string CommandLine(string db, Workload workload)
        => string.Join(' ', new[] { Python.Executable, Script, "write", db }.Concat(workload.Arguments()).Select(a => "'" + a.Replace("'", "'\\''") + "'"));

    /// <summary>"&lt;integrity_check&gt; &lt;rows&gt; &lt;sha256 of every (id, v)&gt;\n" of table t: equal dumps, equal content.</summary>
    public static string Dump(string db, bool readOnly = false) => Run(["dump", db, .. readOnly ? new[] { "--readonly" } : []]);

    /// <summary>
    /// "&lt;integrity_check&gt; &lt;top id&gt; &lt;gaps&gt; &lt;lost&gt; &lt;logged&gt;": ids missing below the top (of the ledger when the writer
    /// kept one; with <paramref name="recent"/>, also payload rows missing among the newest that many), and ids
    /// <paramref name="log"/> says were committed but are not there.
    /// </summary>
    public static string[] Check(string db, string? log = null, int recent = 0)
        => Run(["check", db, .. log is null ? Array.Empty<string>() : [log], "--recent", recent.ToString(CultureInfo.InvariantCulture)]).Trim().Split(' ');

    /// <summary>The first column of the first row <paramref name="sql"/> returns.</summary>
    public static string Scalar(string db, string sql) => Run(["scalar", db, sql]).Trim();

    /// <summary>The text value the writer stores for row <paramref name="i"/>.</summary>
    public static string TextValue(int i, int pad = 0) => pad > 0 ? $"row{i}-" + new string('x', i % pad) : $"row{i}";

    private static string Run(IEnumerable<string> args) => Processes.RunOk(Python.Executable, [Script, .. args], Python.DefaultLimit);
}
