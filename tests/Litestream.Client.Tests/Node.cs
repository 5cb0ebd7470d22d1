using System.Text.RegularExpressions;

namespace Litestream.Client.Tests;

/// <summary>
/// One node: a database in a directory of its own, replicated to a file replica by the published exe's
/// <c>replicate</c> with its control socket on (and, with a token, the TCP control API on a port the system picks).
/// </summary>
internal sealed partial class Node : IDisposable
{
    public Node(string dir, string? token = null, bool lease = false)
    {
        Directory.CreateDirectory(dir);
        Database = Path.Combine(dir, "app.db");
        Replica = Path.Combine(dir, "replica");
        Socket = Path.Combine(dir, "ls.sock");
        Config = Path.Combine(dir, "litestream.yml");
        string tcp = token is null ? "" : $", addr: \"127.0.0.1:0\", token: {token}";
        File.WriteAllText(Config, $"socket: {{enabled: true, path: {Socket}{tcp}}}\ndbs:\n  - path: {Database}\n"
            + (lease ? "    lease: {enabled: true, ttl: 3s}\n" : "") + $"    replica:\n      url: file://{Replica}\n");
        if (!File.Exists(Database))
        {
            SqliteWriter.Write(Database, 3);
        }
        Process = new BackgroundProcess(TestRepo.Exe!, ["replicate", "-config", Config]);
        Wait.Until(() => File.Exists(Socket) && Directory.Exists(Path.Combine(Replica, "ltx")), "the daemon's socket and first upload", Process);
        if (token is not null)
        {
            Match listening = Wait.For(() => Listening().Match(Process.Output) is { Success: true } m ? m : null, "the TCP control API to listen", Process);
            Address = new Uri($"http://127.0.0.1:{listening.Groups[1].Value}");
        }
    }

    public string Database { get; }

    public string Replica { get; }

    public string Socket { get; }

    public string Config { get; }

    public Uri? Address { get; }

    public BackgroundProcess Process { get; }

    /// <summary>The newest TXID among the replica's L0 files.</summary>
    public ulong ReplicaTxid()
    {
        string l0 = Path.Combine(Replica, "ltx", "0");
        return Directory.Exists(l0)
            ? Directory.GetFiles(l0, "*.ltx").Select(f => Convert.ToUInt64(Path.GetFileName(f)[17..33], 16)).DefaultIfEmpty(0UL).Max()
            : 0;
    }

    public void Dispose() => Process.Dispose();

    [GeneratedRegex(@"control API listening on 127\.0\.0\.1:(\d+)")]
    private static partial Regex Listening();
}
