using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Litestream.Metrics;

namespace Litestream.Aot.Monitoring;

/// <summary>
/// The engine's metrics (<see cref="LitestreamMetrics"/>) in Prometheus' text exposition format 0.0.4, as upstream's
/// <c>promhttp.Handler()</c> serves them: a <see cref="MeterListener"/> aggregates every measurement of the
/// <see cref="LitestreamMetrics.MeterName"/> meter (counters summed, gauges last value, histograms into the
/// instrument's advised buckets), and <see cref="Write"/> prints the families sorted by name, the series by labels
/// (label names sorted), as Go's client does. A few hundred lines instead of a metrics library: prometheus-net
/// added more to the binary than this whole listener (README, "Monitoring").
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    /// <summary>The Content-Type of <see cref="Write"/>'s output.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private enum Aggregation
    {
        Sum,       // Counter, UpDownCounter: measurements are increments
        LastValue, // Gauge: a measurement replaces the value
        Observed,  // observable instruments: each collection reports every series anew
        Histogram,
    }

    private sealed class Family(Instrument instrument, string type, Aggregation aggregation, double[]? bounds)
    {
        public Instrument Instrument { get; } = instrument;
        public string Type { get; } = type;
        public Aggregation Aggregation { get; } = aggregation;
        public double[]? Bounds { get; } = bounds;
        public SortedDictionary<string, Series> Series { get; } = new(StringComparer.Ordinal);
    }

    private sealed class Series(int buckets)
    {
        public double Value { get; set; }
        public long[] BucketCounts { get; } = new long[buckets];
        public long Count { get; set; }
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<Instrument, Family> _families = [];
    private readonly MeterListener _listener;

    /// <summary>Starts listening; measurements made before this are not seen (start it before replication).</summary>
    public PrometheusExporter()
    {
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LitestreamMetrics.MeterName && Describe(instrument) is { } family)
                {
                    lock (_lock)
                    {
                        _families[instrument] = family;
                    }
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Collects the observable instruments, then writes every family.</summary>
    public string Write()
    {
        lock (_lock)
        {
            foreach (Family family in _families.Values)
            {
                if (family.Aggregation == Aggregation.Observed)
                {
                    family.Series.Clear();
                }
            }
        }
        _listener.RecordObservableInstruments();
        var text = new StringBuilder(4096);
        lock (_lock)
        {
            foreach (Family family in _families.Values.OrderBy(f => f.Instrument.Name, StringComparer.Ordinal))
            {
                if (family.Series.Count > 0)
                {
                    WriteFamily(text, family);
                }
            }
        }
        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private static Family? Describe(Instrument instrument) => instrument switch
    {
        Counter<long> or Counter<double> or Counter<int> => new Family(instrument, "counter", Aggregation.Sum, null),
        UpDownCounter<long> or UpDownCounter<double> or UpDownCounter<int> => new Family(instrument, "gauge", Aggregation.Sum, null),
        Gauge<long> or Gauge<double> or Gauge<int> => new Family(instrument, "gauge", Aggregation.LastValue, null),
        ObservableCounter<long> or ObservableCounter<double> or ObservableCounter<int> => new Family(instrument, "counter", Aggregation.Observed, null),
        ObservableGauge<long> or ObservableGauge<double> or ObservableGauge<int>
            or ObservableUpDownCounter<long> or ObservableUpDownCounter<double> or ObservableUpDownCounter<int> => new Family(instrument, "gauge", Aggregation.Observed, null),
        Histogram<double> h => new Family(instrument, "histogram", Aggregation.Histogram, [.. h.Advice?.HistogramBucketBoundaries ?? s_defaultBounds]),
        Histogram<long> h => new Family(instrument, "histogram", Aggregation.Histogram, [.. (h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b) ?? s_defaultBounds)]),
        _ => null,
    };

    // Go's prometheus.DefBuckets, for a histogram that advises none.
    private static readonly double[] s_defaultBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string labels = Labels(tags);
        lock (_lock)
        {
            if (!_families.TryGetValue(instrument, out Family? family))
            {
                return;
            }
            if (!family.Series.TryGetValue(labels, out Series? series))
            {
                series = new Series(family.Bounds?.Length ?? 0);
                family.Series.Add(labels, series);
            }
            switch (family.Aggregation)
            {
                case Aggregation.Sum:
                    series.Value += value;
                    break;
                case Aggregation.LastValue or Aggregation.Observed:
                    series.Value = value;
                    break;
                case Aggregation.Histogram:
                    series.Value += value;
                    series.Count++;
                    int bucket = Array.FindIndex(family.Bounds!, b => value <= b);
                    if (bucket >= 0)
                    {
                        series.BucketCounts[bucket]++;
                    }
                    break;
            }
        }
    }

    /// <summary>The label pairs as they appear between braces, names sorted: <c>db="/a.db",mode="PASSIVE"</c>.</summary>
    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return "";
        }
        var sorted = tags.ToArray();
        Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var text = new StringBuilder();
        foreach ((string name, object? value) in sorted)
        {
            if (text.Length > 0)
            {
                text.Append(',');
            }
            text.Append(name).Append("=\"");
            AppendEscaped(text, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "", escapeQuote: true);
            text.Append('"');
        }
        return text.ToString();
    }

    private static void WriteFamily(StringBuilder text, Family family)
    {
        string name = family.Instrument.Name;
        text.Append("# HELP ").Append(name).Append(' ');
        AppendEscaped(text, family.Instrument.Description ?? "", escapeQuote: false);
        text.Append("\n# TYPE ").Append(name).Append(' ').Append(family.Type).Append('\n');
        foreach ((string labels, Series series) in family.Series)
        {
            if (family.Aggregation != Aggregation.Histogram)
            {
                AppendSample(text, name, labels, null, series.Value);
                continue;
            }
            long cumulative = 0;
            for (int i = 0; i < family.Bounds!.Length; i++)
            {
                cumulative += series.BucketCounts[i];
                AppendSample(text, name + "_bucket", labels, Number(family.Bounds[i]), cumulative);
            }
            AppendSample(text, name + "_bucket", labels, "+Inf", series.Count);
            AppendSample(text, name + "_sum", labels, null, series.Value);
            AppendSample(text, name + "_count", labels, null, series.Count);
        }
    }

    private static void AppendSample(StringBuilder text, string name, string labels, string? le, double value)
    {
        text.Append(name);
        if (labels.Length > 0 || le is not null)
        {
            text.Append('{').Append(labels);
            if (le is not null)
            {
                text.Append(labels.Length > 0 ? "," : "").Append("le=\"").Append(le).Append('"');
            }
            text.Append('}');
        }
        text.Append(' ').Append(Number(value)).Append('\n');
    }

    /// <summary>A sample value as Go's client writes one: shortest round-trip form, <c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>.</summary>
    private static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    /// <summary>Text-format escaping: backslash and newline always, the double quote inside label values.</summary>
    private static void AppendEscaped(StringBuilder text, string value, bool escapeQuote)
    {
        foreach (char c in value)
        {
            _ = c switch
            {
                '\\' => text.Append(@"\\"),
                '\n' => text.Append(@"\n"),
                '"' when escapeQuote => text.Append("\\\""),
                _ => text.Append(c),
            };
        }
    }
}
