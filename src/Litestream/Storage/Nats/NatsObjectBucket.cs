using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Litestream.Storage.Nats;

/// <summary>
/// A JetStream object store bucket, laid out exactly as nats.go's object.go (and NATS.Net) lay it out, so objects
/// written here and there read back in both: stream <c>OBJ_&lt;bucket&gt;</c>; an object's chunks (128 KiB) are
/// messages on <c>$O.&lt;bucket&gt;.C.&lt;nuid&gt;</c>, its metadata (<see cref="NatsObjectInfo"/>) the last message on
/// <c>$O.&lt;bucket&gt;.M.&lt;base64url(name)&gt;</c> published with <c>Nats-Rollup: sub</c>; digest
/// <c>SHA-256=&lt;base64url&gt;</c>. A put publishes every chunk under a fresh nuid before the metadata, then purges
/// the old chunks: readers see the old object or the new one. Reads and listings use the stream's message-get API
/// (<c>next_by_subj</c>, one request per chunk; a listing reads the stream's subject list first), each under the request timeout.
/// </summary>
internal sealed class NatsObjectBucket
{
    /// <summary>nats.go's default chunk size.</summary>
    public const int ChunkSize = 128 * 1024;
    /// <summary>Metadata requests of one listing in flight at once.</summary>
    public const int ListConcurrency = 16;

    private static readonly byte[] s_rollupHeaders = "NATS/1.0\r\nNats-Rollup: sub\r\n\r\n"u8.ToArray();
    private readonly NatsWire _wire;
    private readonly TimeSpan _requestTimeout;
    private readonly string _stream;

    private NatsObjectBucket(NatsWire wire, string bucket, TimeSpan requestTimeout)
    {
        _wire = wire;
        Name = bucket;
        _requestTimeout = requestTimeout;
        _stream = "OBJ_" + bucket;
    }

    /// <summary>The bucket's name.</summary>
    public string Name { get; }

    /// <summary>The connection the bucket is read through.</summary>
    public NatsWire Wire => _wire;

    /// <summary>Opens an existing bucket (its stream must exist: litestream never creates one, as upstream).</summary>
    /// <exception cref="NatsApiException">With <see cref="NatsApiException.StreamNotFound"/>: no such bucket.</exception>
    public static async Task<NatsObjectBucket> OpenAsync(NatsWire wire, string bucket, TimeSpan requestTimeout, CancellationToken cancellationToken)
    {
        // nats.go's bucket name rule: the name becomes part of subjects.
        if (bucket.Length == 0 || !bucket.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new NatsException($"invalid bucket name \"{bucket}\" (letters, digits, - and _ only)");
        }
        var store = new NatsObjectBucket(wire, bucket, requestTimeout);
        await store.MessageCountAsync(cancellationToken).ConfigureAwait(false);
        return store;
    }

    /// <summary>Messages in the bucket's stream (0: it has never held an object).</summary>
    public async Task<long> MessageCountAsync(CancellationToken cancellationToken)
    {
        using JsonDocument info = await ApiAsync("$JS.API.STREAM.INFO." + _stream, [], cancellationToken).ConfigureAwait(false);
        return info.RootElement.TryGetProperty("state", out JsonElement state) && state.TryGetProperty("messages", out JsonElement messages)
            && messages.TryGetInt64(out long count) ? count : 0;
    }

    /// <summary>The live object's metadata.</summary>
    /// <exception cref="NatsObjectNotFoundException">No such object, or it was deleted.</exception>
    public async Task<NatsObjectInfo> GetInfoAsync(string name, CancellationToken cancellationToken)
    {
        NatsObjectInfo? info = await TryGetInfoAsync(name, cancellationToken).ConfigureAwait(false);
        return info is { Deleted: false } ? info : throw new NatsObjectNotFoundException(name);
    }

    /// <summary>
    /// The live objects whose names start with <paramref name="prefix"/>. The stream's subject list names every
    /// object (its metadata subject is the base64 of the name), so only the matching objects' metadata is fetched,
    /// <see cref="ListConcurrency"/> requests at a time: a listing costs a few round trips, not one per object.
    /// </summary>
    public async Task<List<NatsObjectInfo>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        string metaPrefix = $"$O.{Name}.M.";
        var subjects = new List<string>();
        for (long offset = 0; ;)
        {
            byte[] request = Json(json =>
            {
                json.WriteString("subjects_filter", metaPrefix + ">");
                json.WriteNumber("offset", offset);
            });
            using JsonDocument info = await ApiAsync("$JS.API.STREAM.INFO." + _stream, request, cancellationToken).ConfigureAwait(false);
            JsonElement root = info.RootElement;
            int page = 0;
            if (root.TryGetProperty("state", out JsonElement state) && state.TryGetProperty("subjects", out JsonElement found) && found.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty subject in found.EnumerateObject())
                {
                    page++;
                    if (NameOf(subject.Name.AsSpan(metaPrefix.Length)) is { } name && name.StartsWith(prefix, StringComparison.Ordinal))
                    {
                        subjects.Add(subject.Name);
                    }
                }
            }
            // A server with more subjects than one answer holds pages them (total, offset); older ones send all at once.
            offset += page;
            if (page == 0 || !root.TryGetProperty("total", out JsonElement total) || !total.TryGetInt64(out long all) || offset >= all)
            {
                break;
            }
        }
        var objects = new NatsObjectInfo?[subjects.Count];
        await Parallel.ForAsync(0, subjects.Count, new ParallelOptions { MaxDegreeOfParallelism = ListConcurrency, CancellationToken = cancellationToken }, async (i, token) =>
            objects[i] = await LastInfoAsync(subjects[i], token).ConfigureAwait(false)).ConfigureAwait(false);
        return [.. objects.OfType<NatsObjectInfo>().Where(o => !o.Deleted)];
    }

    /// <summary>Stores <paramref name="data"/> as object <paramref name="name"/>, replacing any; returns its size.</summary>
    public async Task<long> PutAsync(string name, IReadOnlyDictionary<string, string[]> headers, Stream data, CancellationToken cancellationToken)
    {
        NatsObjectInfo? existing = await TryGetInfoAsync(name, cancellationToken).ConfigureAwait(false);
        string nuid = Nuid.Next();
        string chunkSubject = ChunkSubject(nuid);
        byte[] chunk = ArrayPool<byte>.Shared.Rent(Math.Min(ChunkSize, _wire.MaxPayload));
        using var digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long size = 0;
        int chunks = 0;
        try
        {
            int chunkSize = Math.Min(ChunkSize, _wire.MaxPayload);
            while (true)
            {
                int n = await data.ReadAtLeastAsync(chunk.AsMemory(0, chunkSize), chunkSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                digest.AppendData(chunk, 0, n);
                await PublishAsync(chunkSubject, default, chunk.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                size += n;
                chunks++;
                if (n < chunkSize)
                {
                    break;
                }
            }
            var info = new NatsObjectInfo(name, Name, nuid, size, chunks, "SHA-256=" + Base64Url(digest.GetHashAndReset()), false, headers, default);
            await PublishAsync(MetaSubject(name), s_rollupHeaders, info.ToJson(chunkSize), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await PurgeQuietlyAsync(nuid).ConfigureAwait(false);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        if (existing is { Deleted: false } && existing.Nuid != nuid)
        {
            await PurgeAsync(existing.Nuid, cancellationToken).ConfigureAwait(false);
        }
        return size;
    }

    /// <summary>Replaces the object's metadata with a delete marker and purges its chunks (nats.go's Delete).</summary>
    /// <exception cref="NatsObjectNotFoundException">No such object.</exception>
    public async Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        NatsObjectInfo info = await GetInfoAsync(name, cancellationToken).ConfigureAwait(false);
        NatsObjectInfo marker = info with { Deleted = true, Size = 0, Chunks = 0, Digest = "" };
        await PublishAsync(MetaSubject(name), s_rollupHeaders, marker.ToJson(ChunkSize), cancellationToken).ConfigureAwait(false);
        await PurgeAsync(info.Nuid, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The first chunk of object id <paramref name="nuid"/> at or after stream sequence <paramref name="sequence"/>, or null.</summary>
    public async Task<(byte[] Data, long Sequence)?> ReadChunkAsync(string nuid, long sequence, CancellationToken cancellationToken)
        => await NextMessageAsync(ChunkSubject(nuid), sequence, cancellationToken).ConfigureAwait(false) is { } found
            ? (found.Data, found.Sequence)
            : null;

    /// <summary>The digest string of some bytes' SHA-256, as the metadata holds it.</summary>
    public static string DigestOf(byte[] sha256) => "SHA-256=" + Base64Url(sha256);

    private Task<NatsObjectInfo?> TryGetInfoAsync(string name, CancellationToken cancellationToken)
        => LastInfoAsync(MetaSubject(name), cancellationToken);

    private async Task<NatsObjectInfo?> LastInfoAsync(string metaSubject, CancellationToken cancellationToken)
    {
        byte[] request = Json(json => json.WriteString("last_by_subj", metaSubject));
        try
        {
            using JsonDocument answer = await ApiAsync("$JS.API.STREAM.MSG.GET." + _stream, request, cancellationToken).ConfigureAwait(false);
            StoredMessage message = StoredMessage.From(answer.RootElement);
            return NatsObjectInfo.Parse(message.Data, message.Time);
        }
        catch (NatsApiException e) when (e.ErrorCode == NatsApiException.NoMessageFound)
        {
            return null;
        }
    }

    private async Task<StoredMessage?> NextMessageAsync(string subject, long sequence, CancellationToken cancellationToken)
    {
        byte[] request = Json(json =>
        {
            json.WriteNumber("seq", sequence);
            json.WriteString("next_by_subj", subject);
        });
        try
        {
            using JsonDocument answer = await ApiAsync("$JS.API.STREAM.MSG.GET." + _stream, request, cancellationToken).ConfigureAwait(false);
            return StoredMessage.From(answer.RootElement);
        }
        catch (NatsApiException e) when (e.ErrorCode == NatsApiException.NoMessageFound)
        {
            return null;
        }
    }

    private async Task PurgeAsync(string nuid, CancellationToken cancellationToken)
    {
        byte[] request = Json(json => json.WriteString("filter", ChunkSubject(nuid)));
        using JsonDocument _ = await ApiAsync("$JS.API.STREAM.PURGE." + _stream, request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes a failed put's chunks, within one request timeout, whatever the caller's cancellation.</summary>
    private async Task PurgeQuietlyAsync(string nuid)
    {
        try
        {
            await PurgeAsync(nuid, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or IOException or OperationCanceledException or TimeoutException)
        {
            // The chunks of an object whose metadata never landed are unreachable; a later put cannot reuse the nuid.
        }
    }

    /// <summary>A JetStream publish: the stream's acknowledgement, or its error.</summary>
    private async Task PublishAsync(string subject, ReadOnlyMemory<byte> headers, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        using JsonDocument _ = await RequestAsync(subject, headers, payload, cancellationToken).ConfigureAwait(false);
    }

    private Task<JsonDocument> ApiAsync(string subject, byte[] body, CancellationToken cancellationToken)
        => RequestAsync(subject, default, body, cancellationToken);

    /// <summary>One request under the request timeout; an API error becomes <see cref="NatsApiException"/>.</summary>
    private async Task<JsonDocument> RequestAsync(string subject, ReadOnlyMemory<byte> headers, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_requestTimeout);
        NatsReply reply;
        try
        {
            reply = await _wire.RequestAsync(subject, headers, payload, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // An unanswered request may mean a dead connection that TCP has not noticed: the next request reconnects.
            await _wire.DisposeAsync().ConfigureAwait(false);
            throw new TimeoutException($"no answer to {subject} within {_requestTimeout.TotalSeconds:0.###}s");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(reply.Payload, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new NatsException($"the answer to {subject} is not JSON (status {reply.Status})", e);
        }
        if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out JsonElement error))
        {
            int code = error.TryGetProperty("code", out JsonElement c) && c.TryGetInt32(out int v) ? v : 0;
            int errorCode = error.TryGetProperty("err_code", out JsonElement ec) && ec.TryGetInt32(out int w) ? w : 0;
            string description = error.TryGetProperty("description", out JsonElement d) ? d.GetString() ?? "" : "";
            document.Dispose();
            throw new NatsApiException(code, errorCode, description);
        }
        return document;
    }

    private string ChunkSubject(string nuid) => $"$O.{Name}.C.{nuid}";

    private string MetaSubject(string name) => $"$O.{Name}.M.{Base64Url(Encoding.UTF8.GetBytes(name))}";

    /// <summary>The object name a metadata subject's last token encodes; null for a subject no object store wrote.</summary>
    private static string? NameOf(ReadOnlySpan<char> encoded)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(encoded.ToString().Replace('-', '+').Replace('_', '/')));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Go's base64.URLEncoding: the URL alphabet, with padding.</summary>
    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>One message of the stream as the message-get API returns it.</summary>
    private readonly record struct StoredMessage(long Sequence, byte[] Data, DateTimeOffset Time)
    {
        public static StoredMessage From(JsonElement answer)
        {
            if (!answer.TryGetProperty("message", out JsonElement message) || !message.TryGetProperty("seq", out JsonElement seq) || !seq.TryGetInt64(out long sequence))
            {
                throw new NatsException("a message-get answer without a message");
            }
            byte[] data = message.TryGetProperty("data", out JsonElement d) && d.ValueKind == JsonValueKind.String ? d.GetBytesFromBase64() : [];
            DateTimeOffset time = message.TryGetProperty("time", out JsonElement t) && ReplicaTimestamp.TryParse(t.GetString(), out DateTimeOffset parsed)
                ? parsed
                : default;
            return new StoredMessage(sequence, data, time);
        }
    }
}
