using System.Diagnostics;
using Litestream.Metrics;

namespace Litestream.Storage;

/// <summary>
/// One request to storage, counted in upstream's replica metrics (<c>litestream_replica_operation_*</c>, tags
/// replica_type and operation): every backend starts one per GET, PUT, DELETE and LIST and reports how it ended.
/// <code>
/// var op = ReplicaOperation.Start(Type, ReplicaOperation.Put);
/// try { …; op.Succeeded(bytes); } catch (Exception e) when (op.Failed(e)) { }
/// </code>
/// </summary>
internal readonly struct ReplicaOperation
{
    public const string Get = "GET";
    public const string Put = "PUT";
    public const string Delete = "DELETE";
    public const string List = "LIST";

    private readonly string _replicaType;
    private readonly string _operation;
    private readonly long _started;

    private ReplicaOperation(string replicaType, string operation)
    {
        _replicaType = replicaType;
        _operation = operation;
        _started = Stopwatch.GetTimestamp();
    }

    /// <summary>Starts timing one operation of a backend.</summary>
    public static ReplicaOperation Start(string replicaType, string operation) => new(replicaType, operation);

    /// <summary>The operation succeeded, moving <paramref name="bytes"/> and covering <paramref name="count"/> objects (a batch delete).</summary>
    public void Succeeded(long bytes = 0, int count = 1)
    {
        var tags = new TagList { { "replica_type", _replicaType }, { "operation", _operation } };
        LitestreamMetrics.ReplicaOperationTotal.Add(count, tags);
        if (bytes > 0)
        {
            LitestreamMetrics.ReplicaOperationBytes.Add(bytes, tags);
        }
        LitestreamMetrics.ReplicaOperationDuration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, tags);
    }

    /// <summary>
    /// The operation failed with <paramref name="error"/>; <paramref name="code"/> is the storage's error code
    /// (S3's <c>NoSuchKey</c>, an HTTP status), else one is derived from the exception. A cancellation without a
    /// code is the caller giving up, no failure of the storage, and is not counted. Returns false, so it can sit
    /// in an exception filter.
    /// </summary>
    public bool Failed(Exception error, string? code = null)
    {
        if (error is OperationCanceledException && code is null)
        {
            return false;
        }
        var tags = new TagList { { "replica_type", _replicaType }, { "operation", _operation } };
        LitestreamMetrics.ReplicaOperationDuration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, tags);
        tags.Add("code", code ?? error switch
        {
            ReplicaFileNotFoundException => "NotFound",
            TimeoutException => "Timeout",
            UnauthorizedAccessException => "AccessDenied",
            IOException => "IOError",
            _ => "Error",
        });
        LitestreamMetrics.ReplicaOperationErrors.Add(1, tags);
        return false;
    }
}
