using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace Litestream.Lease;

/// <summary>
/// The content of <c>lease.json</c>: who holds the lease (a random id per holder, its host and pid, for people), its
/// generation (one more with every holder, never reset: a release leaves the object, marked released), its TTL and
/// the expiry by the holder's clock. Written and read with the JSON reader/writer directly (no reflection).
/// </summary>
internal sealed record LeaseRecord(string Holder, string Host, int Pid, long Generation, TimeSpan Ttl, DateTimeOffset Expires, bool Released)
{
    private const int MaxText = 256;

    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("holder", Holder);
            json.WriteString("host", Host);
            json.WriteNumber("pid", Pid);
            json.WriteNumber("generation", Generation);
            json.WriteNumber("ttl_ms", (long)Ttl.TotalMilliseconds);
            json.WriteString("expires", Expires.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteBoolean("released", Released);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The record in <paramref name="content"/>, or null with why it is not one.</summary>
    public static LeaseRecord? TryParse(ReadOnlySpan<byte> content, out string error)
    {
        error = "";
        if (content.Length >= Storage.LeaseObject.MaxSize)
        {
            error = $"larger than {Storage.LeaseObject.MaxSize} bytes";
            return null;
        }
        try
        {
            var reader = new Utf8JsonReader(content, new JsonReaderOptions { MaxDepth = 2 });
            using JsonDocument document = JsonDocument.ParseValue(ref reader);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "not a JSON object";
                return null;
            }
            string? holder = Text(root, "holder");
            string? host = Text(root, "host");
            if (holder is null || host is null
                || !root.TryGetProperty("pid", out JsonElement pid) || !pid.TryGetInt32(out int pidValue)
                || !root.TryGetProperty("generation", out JsonElement generation) || !generation.TryGetInt64(out long generationValue) || generationValue < 1
                || !root.TryGetProperty("ttl_ms", out JsonElement ttl) || !ttl.TryGetInt64(out long ttlMs) || ttlMs <= 0
                || Text(root, "expires") is not { } expires
                || !DateTimeOffset.TryParse(expires, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset expiresValue))
            {
                error = "missing or invalid holder, host, pid, generation, ttl_ms or expires";
                return null;
            }
            bool released = root.TryGetProperty("released", out JsonElement r) && r.ValueKind == JsonValueKind.True;
            // A TTL beyond a day is not one this program writes; capping it keeps a hostile object from parking the lease for years.
            TimeSpan ttlValue = TimeSpan.FromMilliseconds(Math.Min(ttlMs, (long)TimeSpan.FromDays(1).TotalMilliseconds));
            return new LeaseRecord(holder, host, pidValue, generationValue, ttlValue, expiresValue, released);
        }
        catch (JsonException e)
        {
            error = $"not JSON: {e.Message}";
            return null;
        }
    }

    private static string? Text(JsonElement root, string name)
        => root.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 and <= MaxText } text ? text : null;
}
