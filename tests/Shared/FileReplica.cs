namespace Litestream.Testing;

/// <summary>What a file replica (upstream's layout: &lt;dir&gt;/ltx/&lt;level&gt;/&lt;min&gt;-&lt;max&gt;.ltx) holds, read from its file names.</summary>
public static class FileReplica
{
    /// <summary>The L0 files' names, in TXID order (none when the level does not exist yet).</summary>
    public static string[] L0Files(string replicaDir)
    {
        string dir = Path.Combine(replicaDir, "ltx", "0");
        return Directory.Exists(dir) ? [.. Directory.GetFiles(dir, "*.ltx").Select(Path.GetFileName).Order(StringComparer.Ordinal)!] : [];
    }

    /// <summary>Highest max TXID among the L0 files (0 when there are none).</summary>
    public static ulong NewestL0Txid(string replicaDir)
        => L0Files(replicaDir).Select(name => Convert.ToUInt64(name[(name.IndexOf('-') + 1)..name.IndexOf('.')], 16)).DefaultIfEmpty(0UL).Max();
}
