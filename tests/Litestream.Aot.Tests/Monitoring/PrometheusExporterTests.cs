using System.Diagnostics.Metrics;
using Litestream.Aot.Monitoring;
using Litestream.Metrics;

namespace Litestream.Aot.Tests.Monitoring;

/// <summary>The text exposition, byte for byte as Go's client writes it, for each kind of instrument.</summary>
public class PrometheusExporterTests
{
    [Fact]
    public void Write_EachInstrumentKind_TextFormatAsGoClient()
    {
        using var exporter = new PrometheusExporter();
        // Instruments on a meter of the engine's name, with names no engine instrument has (other tests in this
        // process may drive the engine's own).
        using var meter = new Meter(LitestreamMetrics.MeterName);
        Counter<long> counter = meter.CreateCounter<long>("test_exporter_ops_total", null, "Ops, with a \\ and\na newline");
        Counter<double> seconds = meter.CreateCounter<double>("test_exporter_seconds", null, "Seconds");
        Gauge<long> gauge = meter.CreateGauge<long>("test_exporter_size", null, "Size");
        Histogram<double> histogram = meter.CreateHistogram<double>("test_exporter_duration_seconds", null, "Duration", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.5, 1] });
        meter.CreateObservableGauge("test_exporter_observed", () => new Measurement<long>(7, new KeyValuePair<string, object?>("db", "/o.db")), null, "Observed");
        Meter other = new("Someone.Else");
        other.CreateCounter<long>("test_exporter_foreign_total").Add(1);

        counter.Add(2, new("mode", "PASSIVE"), new("db", "/a \"quoted\" \\ db\nx"));
        counter.Add(3, new("db", "/a \"quoted\" \\ db\nx"), new("mode", "PASSIVE"));
        counter.Add(1, new KeyValuePair<string, object?>("db", "/b.db"));
        seconds.Add(0.25);
        seconds.Add(0.5);
        gauge.Record(4096, new KeyValuePair<string, object?>("db", "/a.db"));
        gauge.Record(123, new KeyValuePair<string, object?>("db", "/b.db"));
        gauge.Record(8192, new KeyValuePair<string, object?>("db", "/a.db"));
        foreach (double v in (double[])[0.0078125, 0.0078125, 0.25, 3])
        {
            histogram.Record(v, new KeyValuePair<string, object?>("operation", "PUT"));
        }

        string text = exporter.Write();
        string ours = string.Concat(text.Split('\n').Where(l => l.Contains("test_exporter_", StringComparison.Ordinal)).Select(l => l + "\n"));
        Assert.Equal("""
            # HELP test_exporter_duration_seconds Duration
            # TYPE test_exporter_duration_seconds histogram
            test_exporter_duration_seconds_bucket{operation="PUT",le="0.01"} 2
            test_exporter_duration_seconds_bucket{operation="PUT",le="0.5"} 3
            test_exporter_duration_seconds_bucket{operation="PUT",le="1"} 3
            test_exporter_duration_seconds_bucket{operation="PUT",le="+Inf"} 4
            test_exporter_duration_seconds_sum{operation="PUT"} 3.265625
            test_exporter_duration_seconds_count{operation="PUT"} 4
            # HELP test_exporter_observed Observed
            # TYPE test_exporter_observed gauge
            test_exporter_observed{db="/o.db"} 7
            # HELP test_exporter_ops_total Ops, with a \\ and\na newline
            # TYPE test_exporter_ops_total counter
            test_exporter_ops_total{db="/a \"quoted\" \\ db\nx",mode="PASSIVE"} 5
            test_exporter_ops_total{db="/b.db"} 1
            # HELP test_exporter_seconds Seconds
            # TYPE test_exporter_seconds counter
            test_exporter_seconds 0.75
            # HELP test_exporter_size Size
            # TYPE test_exporter_size gauge
            test_exporter_size{db="/a.db"} 8192
            test_exporter_size{db="/b.db"} 123

            """.Replace("\r\n", "\n"), ours);
        other.Dispose();
    }
}
