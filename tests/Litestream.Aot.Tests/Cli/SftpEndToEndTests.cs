namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating a database written by python3 to a local sshd (litestream.yml with upstream's
/// sftp keys: host, user, key-path, host-key), then restoring from it; and the refusal of a server whose key
/// the config does not name: one error line with the fingerprint, a hint holding the key line to set.
/// </summary>
[Requires(Need.Python)]
public class SftpEndToEndTests
{
    /// <summary>Commits <paramref name="start"/>..<paramref name="start"/>+<paramref name="count"/>-1, five random blobs of mixed sizes each.</summary>
    private static void Write(string db, int start, int count)
        => SqliteWriter.Write(db, new Workload { Start = start, Commits = count, Batch = "5", Sizes = "10,300,3000,9000", BusyTimeoutMs = 10_000 });

    [RequiresFact(Need.Exe, Need.Sshd)]
    public void Replicate_ToSshd_ThenRestore_SameContent()
    {
        using var sshd = new Sshd();
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 0, 50);

        using (var daemon = new Replicator(db, ReplicaYaml(sshd, $"host-key: {sshd.HostKey}")))
        {
            Write(db, 50, 250);
            daemon.CaughtUp();
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain("level=ERROR", daemon.Output);
        }
        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith("ok 1500 ", expected);

        // The files are upstream's layout under the configured path on the server.
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(sshd.DataDirectory, "app", "ltx", "0"), "*.ltx"));
        string config = WriteConfig(sshd, dir, db, $"host-key: {sshd.HostKey}");
        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run("restore", "-config", config, "-integrity-check", "full", "-o", restored, db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(restored));
        ProcessResult ltx = Exe.Run("ltx", "-config", config, "-level", "all", db);
        Assert.Equal(0, ltx.ExitCode);
        Assert.Contains("\n0 ", ltx.Stdout);
    }

    [RequiresFact(Need.Exe, Need.Sshd)]
    public void Restore_NoHostKey_RefusesTheServer_HintNamesItsKey()
    {
        using var sshd = new Sshd();
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string config = WriteConfig(sshd, dir, db, "");
        string output = Path.Combine(dir, "out.db");
        ProcessResult r = Exe.Run("restore", "-config", config, "-o", output, db);
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        string fingerprint = Processes.RunOk("ssh-keygen", ["-l", "-f", Path.Combine(sshd.Directory, "host_key.pub")]).Split(' ')[1];
        Assert.Equal($"error: sftp: connect sftp://{Sshd.User}@127.0.0.1:{sshd.Port}{sshd.DataDirectory}/app: unknown host key {fingerprint}, and no host-key is set", lines[^2]);
        string keyLine = string.Join(' ', sshd.HostKey.Split(' ')[..2]);
        Assert.Contains($"set host-key: \"{keyLine}\"", lines[^1]);
        Assert.StartsWith("hint: ", lines[^1]);
        Assert.False(File.Exists(output));
    }

    [RequiresFact(Need.Exe, Need.Sshd)]
    public void Restore_WrongHostKey_RefusesTheServer()
    {
        using var sshd = new Sshd();
        using var other = new Sshd();
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string config = WriteConfig(sshd, dir, db, $"host-key: {other.HostKey}");
        ProcessResult r = Exe.Run("restore", "-config", config, "-o", Path.Combine(dir, "out.db"), db);
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.Contains(": host key mismatch: the server presented SHA256:", lines[^2]);
        Assert.StartsWith("hint: if the server's key was changed on purpose", lines[^1]);
    }

    /// <summary>The lines under <c>replica:</c> for the sshd's <c>app</c> folder, plus <paramref name="hostKeyLine"/>.</summary>
    private static string ReplicaYaml(Sshd sshd, string hostKeyLine) => $"""
        type: sftp
        host: {sshd.HostPort}
        user: {Sshd.User}
        key-path: {sshd.ClientKeyPath}
        path: {sshd.DataDirectory}/app
        sync-interval: 100ms
        {hostKeyLine}
        """;

    private static string WriteConfig(Sshd sshd, string dir, string db, string hostKeyLine)
    {
        string config = Path.Combine(dir, "litestream.yml");
        string replica = string.Join('\n', ReplicaYaml(sshd, hostKeyLine).Trim().Split('\n').Select(l => "      " + l.Trim()));
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n{replica}\n");
        return config;
    }
}
