using System.Globalization;
using System.Text.RegularExpressions;

namespace Litestream.Storage;

/// <summary>Litestream v0.3 object names (v0.5 <c>v3.go</c> regexes).</summary>
internal static partial class LegacyNames
{
    [GeneratedRegex("^[0-9a-f]{16}$")]
    private static partial Regex GenerationRegex();

    [GeneratedRegex(@"^([0-9a-f]{8})\.snapshot\.lz4$")]
    private static partial Regex SnapshotRegex();

    [GeneratedRegex(@"^([0-9a-f]{8})_([0-9a-f]{8,16})\.wal\.lz4$")]
    private static partial Regex WalSegmentRegex();

    /// <summary>True for a 16-hex generation id.</summary>
    public static bool IsGeneration(string name) => GenerationRegex().IsMatch(name);

    /// <summary>Parses <c>%08x.snapshot.lz4</c>.</summary>
    public static bool TryParseSnapshot(string name, out uint index)
    {
        Match m = SnapshotRegex().Match(name);
        index = m.Success ? uint.Parse(m.Groups[1].ValueSpan, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture) : 0;
        return m.Success;
    }

    /// <summary>Parses <c>%08x_%08x.wal.lz4</c> (offset 8–16 hex digits).</summary>
    public static bool TryParseWalSegment(string name, out uint index, out long offset)
    {
        Match m = WalSegmentRegex().Match(name);
        index = m.Success ? uint.Parse(m.Groups[1].ValueSpan, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture) : 0;
        offset = m.Success ? long.Parse(m.Groups[2].ValueSpan, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture) : 0;
        return m.Success;
    }

    /// <summary>Formats a snapshot name.</summary>
    public static string Snapshot(uint index) => $"{index:x8}.snapshot.lz4";

    /// <summary>Formats a WAL segment name.</summary>
    public static string WalSegment(uint index, long offset) => $"{index:x8}_{offset:x8}.wal.lz4";
}
