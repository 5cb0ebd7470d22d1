using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Litestream.Aot.Config;
using Litestream.Aot.Directories;
using Litestream.Ltx;
using Litestream.Replication;

namespace Litestream.Aot.Cli;

/// <summary>
/// <c>litestream status [-json] [DB_PATH]</c> (upstream cmd/litestream/status.go): each configured database's
/// local state, read from the files alone (database, WAL, meta directory), so it works beside a running daemon.
/// </summary>
internal static class StatusCommand
{
    public static Command Build()
    {
        Argument<string?> path = new("path") { Description = "show only this database", HelpName = "DB_PATH", Arity = ArgumentArity.ZeroOrOne };
        Option<bool> json = CommonOptions.Json();
        Option<string?> config = CommonOptions.Config();
        Option<bool> noExpandEnv = CommonOptions.NoExpandEnv();
        var command = new DocumentedCommand("status", "show the local replication state of each database",
            "Shows each configured database's local replication state, read from its files alone (the database, its WAL "
            + "and its meta directory), so it works beside a running replicate and without one: ok, not initialized, no "
            + "database, or error with the reason the running replicate last recorded, plus the local TXID and the WAL size.",
            new("show every database of /etc/litestream.yml", "litestream status"),
            new("show one database as JSON", "litestream status -json /var/lib/app.db"))
        {
            path, json, config, noExpandEnv,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            LitestreamConfig cfg = ReplicaTarget.LoadConfig(result.GetValue(config), !result.GetValue(noExpandEnv));
            string? filter = result.GetValue(path) is { } p ? Path.GetFullPath(p) : null;
            var rows = new List<DbStatusRow>();
            foreach (DbConfig dbConfig in DatabaseDirectory.Expand(cfg.Dbs, new ConsoleLogger(Microsoft.Extensions.Logging.LogLevel.Warning)))
            {
                if (filter is null || string.Equals(dbConfig.Path, filter, StringComparison.Ordinal))
                {
                    rows.Add(await GetStatusAsync(dbConfig, cfg.ReplicaDefaults).ConfigureAwait(false));
                }
            }
            if (filter is not null && rows.Count == 0)
            {
                throw new CommandException($"database not found in config: {filter}", "'litestream databases' lists the configured databases");
            }
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(rows, LitestreamJsonContext.Indented.ListDbStatusRow));
                return 0;
            }
            WriteTable(rows);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Upstream's four columns, the lag only while a replicate process reports it. When a database has several
    /// replicas, three columns follow (replica, type, replica txid) and each of its replicas has a row whose status is
    /// that replica's; the other databases' rows are unchanged with <c>-</c> there. Errors follow the table, a failing
    /// replica's as <c>DB (replica NAME): …</c>.
    /// </summary>
    private static void WriteTable(List<DbStatusRow> rows)
    {
        bool lag = rows.Exists(r => r.LagSeconds is not null);
        bool several = rows.Exists(r => r.Replicas is not null);
        List<string> header = ["database", "status", "local txid", "wal size"];
        if (lag)
        {
            header.Add("lag");
        }
        if (several)
        {
            header.AddRange(["replica", "type", "replica txid"]);
        }
        var table = new TextTable([.. header]);
        foreach (DbStatusRow row in rows)
        {
            IEnumerable<(string Status, double? Lag, string[] Replica)> lines = row.Replicas is { } replicas
                ? replicas.Select(r => (r.State ?? row.Status, r.LagSeconds ?? row.LagSeconds, new[] { r.Name, r.Type, r.ReplicaTxid }))
                : [(row.Status, row.LagSeconds, ["-", "-", "-"])];
            foreach ((string status, double? rowLag, string[] replica) in lines)
            {
                List<string> cells = [row.Database, status, row.LocalTxid, row.WalSize];
                if (lag)
                {
                    cells.Add(ReplicationLag.Format(rowLag));
                }
                if (several)
                {
                    cells.AddRange(replica);
                }
                table.Add([.. cells]);
            }
        }
        table.WriteTo(Console.Out);
        foreach (DbStatusRow row in rows)
        {
            if (row.Error is not null)
            {
                Console.WriteLine($"{row.Database}: {row.Error}");
            }
            foreach (ReplicaStatusRow replica in row.Replicas ?? [])
            {
                if (replica.Error is not null)
                {
                    Console.WriteLine($"{row.Database} (replica {replica.Name}): {replica.Error}");
                }
            }
        }
    }

    /// <summary>
    /// ok (has a local position, and a running replicate keeps the replica up with it), not initialized (never
    /// synced), no database, error (unreadable meta directory, or the failing syncs or uploads the running
    /// replicate reports through <see cref="ReplicationHealth"/>: one file for both, so a replica outage and a
    /// full local disk are reported the same way), or behind (the replica has not received a local L0 file for
    /// longer than the sync interval allows: an upload stuck on a stalled connection, before its timeout).
    /// </summary>
    internal static async Task<DbStatusRow> GetStatusAsync(DbConfig dbConfig, ReplicaConfig defaults)
    {
        var db = new Db(dbConfig.Path!, dbConfig.ToDbOptions());
        await using (db.ConfigureAwait(false))
        {
            if (!File.Exists(db.Path))
            {
                return new DbStatusRow(db.Path, "no database", "-", "-");
            }
            string walSize = File.Exists(db.WalPath) ? HumanBytes(new FileInfo(db.WalPath).Length) : "0 B";
            try
            {
                HealthReport? health = ReplicationHealth.Read(db.MetaPath);
                var files = new List<(Txid Max, DateTimeOffset Written)>();
                if (Directory.Exists(db.L0Directory))
                {
                    foreach (string file in Directory.EnumerateFiles(db.L0Directory, "*.ltx"))
                    {
                        if (LtxFileName.TryParse(Path.GetFileName(file), out _, out Txid fileMax))
                        {
                            files.Add((fileMax, File.GetLastWriteTimeUtc(file)));
                        }
                    }
                }
                Txid max = files.Count == 0 ? Txid.Zero : files.Max(f => f.Max);
                // When the oldest local L0 file a replica holding `held` lacks was written.
                DateTimeOffset? OldestMissing(Txid? held) => held is { } h && files.Where(f => f.Max > h).Select(f => f.Written).DefaultIfEmpty().Min() is { } m && m != default ? m : null;
                DateTimeOffset now = DateTimeOffset.UtcNow;
                string localTxid = max.IsZero ? "-" : max.ToString();
                double? lag = ReplicationLag.Of(health, max, OldestMissing(health?.ReplicaTxid), now);
                IReadOnlyList<ReplicaConfig> sections = dbConfig.ReplicaSections();
                if (sections.Count > 1)
                {
                    return SeveralReplicas(db.Path, localTxid, walSize, lag, health, [.. sections.Select(r => (r.DisplayName(defaults), r.TypeName(defaults)))],
                        name => health?.StatusOf(name, max, OldestMissing(health.Replicas.FirstOrDefault(r => r.Name == name)?.Txid), now));
                }
                DateTimeOffset? pendingSince = OldestMissing(health?.ReplicaTxid);
                if (health?.Describe() is { } failing)
                {
                    return new DbStatusRow(db.Path, "error", localTxid, walSize, failing, lag);
                }
                if (health?.DescribeLag(max, pendingSince, DateTimeOffset.UtcNow) is { } behind)
                {
                    return new DbStatusRow(db.Path, "behind", localTxid, walSize, behind, lag);
                }
                return new DbStatusRow(db.Path, max.IsZero ? "not initialized" : "ok", localTxid, walSize, null, lag);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new DbStatusRow(db.Path, "error", "-", walSize);
            }
        }
    }

    /// <summary>
    /// A database with several replicas: a row per replica (its own state, TXID, lag and error) under the database's
    /// status, which is error while syncs fail (the local side: its error is the database's), else the worst replica's.
    /// </summary>
    private static DbStatusRow SeveralReplicas(string path, string localTxid, string walSize, double? lag, HealthReport? health,
        List<(string Name, string Type)> replicas, Func<string, ReplicaStatus?> statusOf)
    {
        List<ReplicaStatusRow> rows = [.. replicas.Select(r => statusOf(r.Name) is { } s
            ? new ReplicaStatusRow(r.Name, r.Type, s.Txid is { } t ? t.ToString() : "-", s.State, s.TxidsBehind, s.LagSeconds, s.LastError)
            : new ReplicaStatusRow(r.Name, r.Type, "-"))];
        string? syncError = health is { Sync: not null } ? (health with { Upload = null }).Describe() : null;
        string status = syncError is not null ? "error"
            : rows.Exists(r => r.State == ReplicaStatus.Error) ? "error"
            : rows.Exists(r => r.State == ReplicaStatus.Behind) ? "behind"
            : localTxid == "-" ? "not initialized" : "ok";
        return new DbStatusRow(path, status, localTxid, walSize, syncError, lag) { Replicas = rows };
    }

    /// <summary>Sizes in SI units with one decimal below 10 (go-humanize's Bytes, which upstream prints): 0 B, 999 B, 4.1 kB, 12 MB.</summary>
    internal static string HumanBytes(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
        if (bytes < 10)
        {
            return $"{bytes} B";
        }
        int exponent = (int)Math.Floor(Math.Log(bytes) / Math.Log(1000));
        double value = Math.Floor((bytes / Math.Pow(1000, exponent) * 10) + 0.5) / 10;
        string format = value < 10 ? "0.0" : "0";
        return $"{value.ToString(format, CultureInfo.InvariantCulture)} {units[exponent]}";
    }
}
