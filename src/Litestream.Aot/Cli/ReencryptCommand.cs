using System.CommandLine;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary>
/// <c>litestream reencrypt [-dry-run] DB_PATH</c> (ours; upstream has no encryption): rewrites the replica's files that
/// are plain or under a previous key so that all are sealed under the current key (docs/ENCRYPTION.md, "Rotation").
/// </summary>
internal static class ReencryptCommand
{
    public static Command Build()
    {
        Argument<string> path = new("path") { Description = "the database whose replica to rewrite (its config entry gives the keys)", HelpName = "DB_PATH" };
        Option<bool> dryRun = CommonOptions.Create<bool>("dry-run", "list which files are under which key, rewrite nothing");
        Option<string?> config = CommonOptions.Config();
        Option<bool> noExpandEnv = CommonOptions.NoExpandEnv();
        var command = new DocumentedCommand("reencrypt", "rewrite a replica's files under the current encryption key",
            "Rewrites every LTX file of a database's replica that is not encrypted, or is encrypted under a key listed in "
            + "encryption.previous-key-paths, so that it is encrypted under encryption.key-path: same levels, TXIDs, pages "
            + "and timestamps, a new salt. Each file is verified while it is read and again before it replaces the old one, "
            + "which the backend replaces atomically. Afterwards no file needs a previous key, and it can be removed from "
            + "the config. Run it while replicate is stopped, so compaction does not remove files it is rewriting.",
            new("rewrite the replica of a database under its current key", "litestream reencrypt /var/lib/app.db"),
            new("list which files are under which key, rewrite nothing", "litestream reencrypt -dry-run /var/lib/app.db"))
        {
            path, dryRun, config, noExpandEnv,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            string target = result.GetValue(path)!;
            if (ReplicaUrl.IsUrl(target))
            {
                throw new UsageException("reencrypt takes a database path, not a replica URL", "the keys come from the database's encryption section in the config");
            }
            (IReplicaClient client, string description, var section) = ReplicaTarget.Resolve(target, result.GetValue(config), !result.GetValue(noExpandEnv));
            await using (client.ConfigureAwait(false))
            {
                LtxKeyRing keys = section!.Value.Replica.EncryptionKeys(section.Value.Defaults)
                    ?? throw new CommandException($"the replica of {Path.GetFullPath(target)} has no encryption section", "add encryption: {key-path: …} to its replica in the config");
                await client.InitAsync(cancellationToken).ConfigureAwait(false);
                return await RunAsync(client, description, keys, result.GetValue(dryRun), cancellationToken).ConfigureAwait(false);
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(IReplicaClient client, string description, LtxKeyRing keys, bool dryRun, CancellationToken cancellationToken)
    {
        string current = LtxPageCipher.FormatKeyId(keys.Current.KeyId);
        int already = 0, other = 0;
        try
        {
            await foreach (ReencryptedFile file in ReplicaReencryption.RunAsync(client, keys, dryRun, cancellationToken).ConfigureAwait(false))
            {
                if (file.KeyId == keys.Current.KeyId)
                {
                    already++;
                    continue;
                }
                other++;
                string from = file.KeyId == 0 ? "plain" : $"key {LtxPageCipher.FormatKeyId(file.KeyId)}";
                string name = $"ltx/{file.File.Level}/{LtxFileName.Format(file.File.MinTxid, file.File.MaxTxid)}";
                Console.WriteLine(dryRun ? $"would reencrypt {name} ({from} -> key {current})" : $"reencrypted {name} ({from} -> key {current})");
            }
        }
        catch (Exception) when (!dryRun)
        {
            // Each file is replaced atomically: the ones listed above are done, the rest are as they were.
            Console.Error.WriteLine($"reencrypt stopped: {other} file(s) were rewritten before this, the others were not; run it again to finish (files under key {current} are skipped)");
            throw;
        }
        Console.WriteLine(dryRun
            ? $"{description}: {other} file(s) would be rewritten under key {current}, {already} already under it; nothing was written"
            : $"{description}: {other} file(s) rewritten under key {current}, {already} already under it");
        return 0;
    }
}
