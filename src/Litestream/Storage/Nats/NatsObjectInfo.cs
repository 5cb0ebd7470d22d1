using System.Text.Json;

namespace Litestream.Storage.Nats;

/// <summary>
/// An object's metadata message (nats.go's ObjectInfo, the JSON at <c>$O.&lt;bucket&gt;.M.&lt;base64url(name)&gt;</c>):
/// name, headers, chunk size, the id of its chunks' subject, size, chunk count, SHA-256 digest, delete marker.
/// <see cref="Modified"/> is the metadata message's time in the stream (writers store a zero mtime, as nats.go).
/// </summary>
internal sealed record NatsObjectInfo(string Name, string Bucket, string Nuid, long Size, int Chunks, string Digest, bool Deleted,
    IReadOnlyDictionary<string, string[]>? Headers, DateTimeOffset Modified)
{
    /// <summary>Reads the metadata JSON; <paramref name="modified"/> is the message's stream time.</summary>
    /// <exception cref="NatsException">Not an object's metadata.</exception>
    public static NatsObjectInfo Parse(ReadOnlySpan<byte> json, DateTimeOffset modified)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            using JsonDocument document = JsonDocument.ParseValue(ref reader);
            JsonElement root = document.RootElement;
            Dictionary<string, string[]>? headers = null;
            if (root.TryGetProperty("headers", out JsonElement h) && h.ValueKind == JsonValueKind.Object)
            {
                headers = new Dictionary<string, string[]>(StringComparer.Ordinal);
                foreach (JsonProperty header in h.EnumerateObject())
                {
                    headers[header.Name] = header.Value.ValueKind == JsonValueKind.Array
                        ? header.Value.EnumerateArray().Select(v => v.GetString() ?? "").ToArray()
                        : [];
                }
            }
            return new NatsObjectInfo(
                String(root, "name") ?? throw new NatsException("object metadata without a name"),
                String(root, "bucket") ?? "",
                String(root, "nuid") ?? "",
                root.TryGetProperty("size", out JsonElement size) && size.TryGetInt64(out long s) ? s : 0,
                root.TryGetProperty("chunks", out JsonElement chunks) && chunks.TryGetInt32(out int c) ? c : 0,
                String(root, "digest") ?? "",
                root.TryGetProperty("deleted", out JsonElement deleted) && deleted.ValueKind == JsonValueKind.True,
                headers,
                modified);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new NatsException("object metadata is not valid JSON", e);
        }
    }

    /// <summary>The metadata JSON as nats.go's publishMeta writes it (a zero mtime: readers take the message's time).</summary>
    public byte[] ToJson(int chunkSize)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("name", Name);
            if (Headers is { Count: > 0 })
            {
                json.WriteStartObject("headers");
                foreach ((string key, string[] values) in Headers)
                {
                    json.WriteStartArray(key);
                    foreach (string value in values)
                    {
                        json.WriteStringValue(value);
                    }
                    json.WriteEndArray();
                }
                json.WriteEndObject();
            }
            json.WriteStartObject("options");
            json.WriteNumber("max_chunk_size", chunkSize);
            json.WriteEndObject();
            json.WriteString("bucket", Bucket);
            json.WriteString("nuid", Nuid);
            json.WriteNumber("size", Size);
            json.WriteString("mtime", "0001-01-01T00:00:00Z");
            json.WriteNumber("chunks", Chunks);
            if (Digest.Length > 0)
            {
                json.WriteString("digest", Digest);
            }
            if (Deleted)
            {
                json.WriteBoolean("deleted", true);
            }
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static string? String(JsonElement root, string name)
        => root.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
