using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Litestream.Client;

/// <summary>A TXID as the daemon writes it: 16 hex digits in a string.</summary>
internal sealed class HexTxidConverter : JsonConverter<ulong?>
{
    public override ulong? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => reader.TokenType == JsonTokenType.Null ? null
            : ulong.TryParse(reader.GetString(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong txid) ? txid
            : throw new JsonException($"not a TXID: {reader.GetString()}");

    public override void Write(Utf8JsonWriter writer, ulong? value, JsonSerializerOptions options)
    {
        if (value is { } txid)
        {
            writer.WriteStringValue(txid.ToString("x16", CultureInfo.InvariantCulture));
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
