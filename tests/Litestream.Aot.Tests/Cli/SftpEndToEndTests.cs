using System.Diagnostics;
using Litestream.Testing;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating a database written by python3 to a local sshd (litestream.yml with upstream's
/// sftp keys: host, user, key-path, host-key), then restoring from it; and the refusal of a server whose key
/// the config does not name: one error line with the fingerprint, a hint holding the key line to set.
/// </summary>
public class SftpEndToEndTests
{
    [SftpExeFact]
    public void Replicate_ToSshd_ThenRestore_SameContent()
    {
        using var sshd = new Sshd();
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        string config = WriteConfig(sshd, dir, db, $"host-key: {sshd.HostKey}");
        Exe.Python(RandomRows.Writer, db, "0", "50");

        using (Exe.Daemon daemon = Exe.Start("replicate", "-config", config))
        {
            Exe.Python(RandomRows.Writer, db, "50", "250");
            string expected = Exe.Python(RandomRows.Dump, db);
            Assert.StartsWith("ok 1500 ", expected);
            // Replicated once a restore gives the writer's last state (the daemon syncs every 100 ms).
            var deadline = Stopwatch.StartNew();
            string restored = Path.Combine(dir, "restored.db");
            while (true)
            {
                File.Delete(restored);
                Exe.Result r = Exe.Run("restore", "-config", config, "-integrity-check", "full", "-o", restored, db);
                if (r.ExitCode == 0 && Exe.Python(RandomRows.Dump, restored) == expected)
                {
                    break;
                }
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(90), $"not replicated within 90 s: {r.Stderr}\n{daemon.Output}");
                Thread.Sleep(200);
            }
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain("level=ERROR", daemon.Output);
        }

        // The files are upstream's layout under the configured path on the server.
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(sshd.DataDirectory, "app", "ltx", "0"), "*.ltx"));
        Exe.Result ltx = Exe.Run("ltx", "-config", config, "-level", "all", db);
        Assert.Equal(0, ltx.ExitCode);
        Assert.Contains("\n0 ", ltx.Stdout);
    }

    [SftpExeFact]
    public void Restore_NoHostKey_RefusesTheServer_HintNamesItsKey()
    {
        using var sshd = new Sshd();
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        string config = WriteConfig(sshd, dir, db, "");
        string output = Path.Combine(dir, "out.db");
        Exe.Result r = Exe.Run("restore", "-config", config, "-o", output, db);
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        string fingerprint = Exe.Tool("ssh-keygen", "-l", "-f", Path.Combine(sshd.Directory, "host_key.pub")).Output.Split(' ')[1];
        Assert.Equal($"error: sftp: connect sftp://{Sshd.User}@127.0.0.1:{sshd.Port}{sshd.DataDirectory}/app: unknown host key {fingerprint}, and no host-key is set", lines[^2]);
        string keyLine = string.Join(' ', sshd.HostKey.Split(' ')[..2]);
        Assert.Contains($"set host-key: \"{keyLine}\"", lines[^1]);
        Assert.StartsWith("hint: ", lines[^1]);
        Assert.False(File.Exists(output));
    }

    [SftpExeFact]
    public void Restore_WrongHostKey_RefusesTheServer()
    {
        using var sshd = new Sshd();
        using var other = new Sshd();
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        string config = WriteConfig(sshd, dir, db, $"host-key: {other.HostKey}");
        Exe.Result r = Exe.Run("restore", "-config", config, "-o", Path.Combine(dir, "out.db"), db);
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.Contains(": host key mismatch: the server presented SHA256:", lines[^2]);
        Assert.StartsWith("hint: if the server's key was changed on purpose", lines[^1]);
    }

    private static string WriteConfig(Sshd sshd, string dir, string db, string hostKeyLine)
    {
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"""
            dbs:
              - path: {db}
                replica:
                  type: sftp
                  host: {sshd.HostPort}
                  user: {Sshd.User}
                  key-path: {sshd.ClientKeyPath}
                  path: {sshd.DataDirectory}/app
                  sync-interval: 100ms
                  {hostKeyLine}
            """);
        return config;
    }
}

/// <summary>A fact that needs the published exe and sshd.</summary>
public sealed class SftpExeFactAttribute : FactAttribute
{
    public SftpExeFactAttribute()
    {
        if (Exe.Path is null)
        {
            Skip = Exe.Missing;
        }
        else if (Sshd.MissingReason is { } reason)
        {
            Skip = reason;
        }
    }
}
