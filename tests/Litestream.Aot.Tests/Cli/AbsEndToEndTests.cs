using Azure.Storage;
using Azure.Storage.Blobs;
using Litestream.Testing;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating a database written by python3 to Azurite (litestream.yml with upstream's
/// abs keys, the key from LITESTREAM_AZURE_ACCOUNT_KEY), then restoring from an abs:// URL; and the error a
/// wrong key gives: one line naming the host and path, a hint, never the key.
/// </summary>
public class AbsEndToEndTests
{
    [AzureExeFact]
    public void Replicate_ToAzurite_ThenRestore_SameContent()
    {
        using var azure = new Azurite();
        new BlobContainerClient(new Uri($"{azure.Endpoint}/backups"), new StorageSharedKeyCredential(Azurite.Account, Azurite.Key)).CreateIfNotExists();
        var env = new Dictionary<string, string> { ["LITESTREAM_AZURE_ACCOUNT_KEY"] = Azurite.Key };
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        File.WriteAllText(Path.Combine(dir, "litestream.yml"), $"""
            dbs:
              - path: {db}
                replica:
                  type: abs
                  account-name: {Azurite.Account}
                  bucket: backups
                  path: app
                  endpoint: {azure.Endpoint}
                  sync-interval: 100ms
            """);
        Exe.Python(RandomRows.Writer, db, "0", "50");

        using (Exe.Daemon daemon = Exe.Start(env, "replicate", "-config", Path.Combine(dir, "litestream.yml")))
        {
            Thread.Sleep(1500);
            Exe.Python(RandomRows.Writer, db, "50", "250");
            Thread.Sleep(2500);
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain("level=ERROR", daemon.Output);
            Assert.DoesNotContain(Azurite.Key, daemon.Output);
        }
        string expected = Exe.Python(RandomRows.Dump, db);
        Assert.StartsWith("ok 1500 ", expected);

        string restored = Path.Combine(dir, "restored.db");
        Exe.Result r = Exe.Run(env, "restore", "-integrity-check", "full", "-o", restored, azure.Url("backups", "app"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, Exe.Python(RandomRows.Dump, restored));
        Assert.DoesNotContain(Azurite.Key, r.Stdout + r.Stderr);

        Exe.Result ltx = Exe.Run(env, "ltx", "-level", "all", azure.Url("backups", "app"));
        Assert.Equal(0, ltx.ExitCode);
        Assert.Contains("\n0 ", ltx.Stdout);
    }

    [AzureExeFact]
    public void Restore_WrongKey_OneErrorLineAndHint_NeverTheKey()
    {
        using var azure = new Azurite();
        const string wrongKey = "d3Jvbmcta2V5LXRoYXQtbXVzdC1uZXZlci1sZWFrLTAxMjM0NTY3ODk=";
        var env = new Dictionary<string, string> { ["LITESTREAM_AZURE_ACCOUNT_KEY"] = wrongKey };
        string dir = Exe.TempDir();
        Exe.Result r = Exe.Run(env, "restore", "-o", Path.Combine(dir, "out.db"), azure.Url("backups", "app"));
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.StartsWith($"error: abs: list {azure.Endpoint}/backups/app/ltx/", lines[^2]);
        Assert.Contains("(HTTP 403)", lines[^2]);
        Assert.StartsWith("hint: check account-name and account-key or sas-token", lines[^1]);
        Assert.DoesNotContain(wrongKey, r.Stdout + r.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "out.db")));
    }

    [ExeFact]
    public void Version_Verbose_ListsEveryBackend()
    {
        Exe.Result r = Exe.Run("version", "-verbose");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("backends: abs, file, oss, s3, sftp\n", r.Stdout);
    }
}

/// <summary>A fact that needs the published exe and Azurite.</summary>
public sealed class AzureExeFactAttribute : FactAttribute
{
    public AzureExeFactAttribute()
    {
        if (Exe.Path is null)
        {
            Skip = Exe.Missing;
        }
        else if (Azurite.ScriptPath is null)
        {
            Skip = Azurite.MissingReason;
        }
    }
}
