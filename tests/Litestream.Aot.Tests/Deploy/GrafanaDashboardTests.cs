using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Litestream.Metrics;

namespace Litestream.Aot.Tests.Deploy;

/// <summary>
/// deploy/grafana/litestream.json: the fields Grafana needs to import it (a schema check, no Grafana server here),
/// every metric it queries is one the engine exports, and every query is valid PromQL (promtool).
/// </summary>
public class GrafanaDashboardTests
{
    private static readonly string s_path = Path.Combine(TestRepo.Root!, "deploy", "grafana", "litestream.json");

    [Fact]
    public void Dashboard_HasWhatGrafanaImports()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(s_path));
        JsonElement root = doc.RootElement;
        Assert.Equal("litestream-aot", root.GetProperty("uid").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("title").GetString()));
        Assert.InRange(root.GetProperty("schemaVersion").GetInt32(), 30, 50);
        string[] variables = [.. root.GetProperty("templating").GetProperty("list").EnumerateArray().Select(v => v.GetProperty("name").GetString()!)];
        Assert.Equal(["datasource", "db"], variables);
        var ids = new HashSet<int>();
        var cells = new HashSet<(int, int)>();
        foreach (JsonElement panel in root.GetProperty("panels").EnumerateArray())
        {
            string title = panel.GetProperty("title").GetString()!;
            Assert.True(ids.Add(panel.GetProperty("id").GetInt32()), $"duplicate panel id in {title}");
            Assert.Contains(panel.GetProperty("type").GetString(), new[] { "timeseries", "stat" });
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
            JsonElement grid = panel.GetProperty("gridPos");
            int x = grid.GetProperty("x").GetInt32(), y = grid.GetProperty("y").GetInt32(), w = grid.GetProperty("w").GetInt32(), h = grid.GetProperty("h").GetInt32();
            Assert.True(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, $"{title}: gridPos outside the 24 columns");
            for (int i = x; i < x + w; i++)
            {
                for (int j = y; j < y + h; j++)
                {
                    Assert.True(cells.Add((i, j)), $"{title} overlaps another panel at ({i},{j})");
                }
            }
            JsonElement[] targets = [.. panel.GetProperty("targets").EnumerateArray()];
            Assert.NotEmpty(targets);
            Assert.All(targets, t => Assert.False(string.IsNullOrWhiteSpace(t.GetProperty("expr").GetString()), $"{title}: empty query"));
            Assert.Equal(targets.Length, targets.Select(t => t.GetProperty("refId").GetString()).Distinct().Count());
        }
        Assert.True(ids.Count >= 8);
    }

    [Fact]
    public void Dashboard_EveryMetricIsOneTheEngineExports()
    {
        var exported = new HashSet<string>();
        using (var listener = new MeterListener())
        {
            listener.InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == LitestreamMetrics.MeterName)
                {
                    exported.Add(instrument.Name);
                    if (instrument is Histogram<double>)
                    {
                        exported.UnionWith([instrument.Name + "_bucket", instrument.Name + "_sum", instrument.Name + "_count"]);
                    }
                }
            };
            RuntimeHelpers.RunClassConstructor(typeof(LitestreamMetrics).TypeHandle);
            listener.Start();
        }
        string[] used = [.. Queries().SelectMany(q => Regex.Matches(q, "litestream_[a-z0-9_]+").Select(m => m.Value)).Distinct()];
        Assert.All(used, name => Assert.Contains(name, exported));
        // The panels the issue asks for: lag, upload rate, errors, WAL size, validation.
        Assert.Contains("litestream_replica_sync_age_seconds", used);
        Assert.Contains("litestream_replica_operation_bytes", used);
        Assert.Contains("litestream_replica_operation_errors_total", used);
        Assert.Contains("litestream_wal_size", used);
        Assert.Contains("litestream_validation_ok", used);
    }

    [Fact]
    public void Dashboard_TransactionsWaiting_PerReplica_NeverNegative()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(s_path));
        JsonElement panel = doc.RootElement.GetProperty("panels").EnumerateArray().Single(p => p.GetProperty("title").GetString() == "Transactions waiting for upload");
        JsonElement target = Assert.Single(panel.GetProperty("targets").EnumerateArray());
        Assert.Equal("clamp_min(litestream_replica_behind{db=~\"$db\"}, 0)", target.GetProperty("expr").GetString());
        Assert.Equal("{{db}} {{replica}}", target.GetProperty("legendFormat").GetString());
    }

    [RequiresFact(Need.Prometheus)]
    public void Dashboard_EveryQueryIsValidPromQL()
    {
        // Grafana's variables as it substitutes them, then each query as a recording rule promtool parses.
        string rules = Path.Combine(TestRepo.TempDir(), "rules.yml");
        File.WriteAllText(rules, "groups:\n  - name: dashboard\n    rules:\n" + string.Concat(Queries().Select((q, i) =>
            $"      - record: dashboard_query_{i}\n        expr: '{q.Replace("$__rate_interval", "5m").Replace("$db", ".*").Replace("'", "''")}'\n")));
        (int code, string output, string stderr) = Processes.Run(Prometheus.PromtoolPath!, ["check", "rules", rules]);
        output += stderr;
        Assert.True(code == 0, output);
    }

    [Fact]
    public void Readme_ShowsThePictureRenderShDraws_FromTheDashboardsOwnPanels()
    {
        // The picture: a PNG, small enough for a README, the one README.md shows.
        string picture = Path.Combine(TestRepo.Root!, "deploy", "grafana", "litestream.png");
        byte[] png = File.ReadAllBytes(picture);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a }, png[..8]);
        Assert.InRange(png.Length, 10_000, 300_000);
        Assert.Contains("](deploy/grafana/litestream.png)", File.ReadAllText(Path.Combine(TestRepo.Root!, "README.md")));

        // render.sh draws panels by title and target index from litestream.json: each must exist, and together they
        // cover what the issue asks the dashboard to show (lag, upload rate, errors, WAL size, validation).
        string script = File.ReadAllText(Path.Combine(TestRepo.Root!, "deploy", "grafana", "render.sh"));
        string list = Regex.Match(script, "cells = \\[(.*?)\\]\n", RegexOptions.Singleline).Groups[1].Value;
        (string Title, int Target)[] cells = [.. Regex.Matches(list, "\\(\"([^\"]+)\", ([0-9]+)\\)").Select(m => (m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))];
        Assert.Equal(6, cells.Length);
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(s_path));
        Dictionary<string, JsonElement> panels = doc.RootElement.GetProperty("panels").EnumerateArray().ToDictionary(p => p.GetProperty("title").GetString()!);
        string[] drawn = [.. cells.Select(c =>
        {
            Assert.True(panels.TryGetValue(c.Title, out JsonElement panel), $"render.sh draws \"{c.Title}\", which litestream.json has no panel for");
            return panel.GetProperty("targets")[c.Target].GetProperty("expr").GetString()!;
        })];
        foreach (string metric in new[] { "litestream_replica_sync_age_seconds", "litestream_replica_operation_bytes", "litestream_replica_operation_errors_total", "litestream_wal_size", "litestream_validation_ok" })
        {
            Assert.Contains(drawn, e => e.Contains(metric, StringComparison.Ordinal));
        }
    }

    private static IEnumerable<string> Queries()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(s_path));
        return [.. doc.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)];
    }
}
