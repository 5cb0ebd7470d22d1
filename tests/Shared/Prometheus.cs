using System.Text.Json;

namespace Litestream.Testing;

/// <summary>
/// A real Prometheus server (Debian's <c>prometheus</c>, installed by .ci/install.sh) on a free loopback port, scraping
/// the targets it is given every second, with a temporary TSDB; <see cref="Query"/> asks its HTTP API. Tests that need
/// it skip with <see cref="MissingReason"/> when it is not installed.
/// </summary>
public sealed class Prometheus : LocalServer
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Starts Prometheus scraping <paramref name="targets"/> (<c>host:port</c>) as job <c>litestream</c>.</summary>
    public Prometheus(params string[] targets)
        : base("prometheus", ProgramPath ?? throw new InvalidOperationException(MissingReason), (dir, port) =>
        {
            string config = System.IO.Path.Combine(dir, "prometheus.yml");
            File.WriteAllText(config, $"""
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                scrape_configs:
                  - job_name: litestream
                    static_configs:
                      - targets: [{string.Join(", ", targets.Select(t => $"'{t}'"))}]

                """);
            return [$"--config.file={config}", $"--storage.tsdb.path={System.IO.Path.Combine(dir, "data")}", $"--web.listen-address=127.0.0.1:{port}"];
        })
    {
        // The port opens before the TSDB is loaded; until then every query answers 503.
        Wait.Until(IsReady, "prometheus to answer /-/ready");
    }

    private bool IsReady()
    {
        try
        {
            using HttpResponseMessage answer = s_http.GetAsync($"http://127.0.0.1:{Port}/-/ready").GetAwaiter().GetResult();
            return answer.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>The prometheus binary; null when it is not installed.</summary>
    public static string? ProgramPath { get; } = File.Exists("/usr/bin/prometheus") ? "/usr/bin/prometheus" : null;

    /// <summary>promtool, beside it.</summary>
    public static string? PromtoolPath { get; } = File.Exists("/usr/bin/promtool") ? "/usr/bin/promtool" : null;

    /// <summary>Why Prometheus tests skip here.</summary>
    public const string MissingReason = "prometheus is not installed (bash .ci/install.sh installs Debian's prometheus package)";

    /// <summary>
    /// An instant query through <c>/api/v1/query</c>: each resulting series' labels and value (an error of the API
    /// throws).
    /// </summary>
    public IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)> Query(string promql)
    {
        string url = $"http://127.0.0.1:{Port}/api/v1/query?query={Uri.EscapeDataString(promql)}";
        using JsonDocument answer = JsonDocument.Parse(s_http.GetStringAsync(url).GetAwaiter().GetResult());
        JsonElement root = answer.RootElement;
        if (root.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"prometheus query {promql} failed: {root}");
        }
        var series = new List<(IReadOnlyDictionary<string, string>, double)>();
        foreach (JsonElement item in root.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var labels = item.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
            string value = item.GetProperty("value")[1].GetString()!;
            series.Add((labels, double.Parse(value, System.Globalization.CultureInfo.InvariantCulture)));
        }
        return series;
    }
}
