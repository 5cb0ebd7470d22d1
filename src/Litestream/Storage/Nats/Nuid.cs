using System.Security.Cryptography;

namespace Litestream.Storage.Nats;

/// <summary>NATS unique ids: 22 base-62 characters (the length and alphabet of nats.go's nuid), random.</summary>
internal static class Nuid
{
    private const string Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>A fresh id.</summary>
    public static string Next() => RandomNumberGenerator.GetString(Digits, 22);
}
