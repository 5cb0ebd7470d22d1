using System.Runtime.CompilerServices;
using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Replication;

/// <summary>
/// <c>litestream reencrypt</c> (docs/ENCRYPTION.md, "Rotation"): rewrites every LTX file of a replica that is plain or
/// sealed under a previous key so that it is sealed under the ring's current key — same level, TXID range, pages,
/// timestamp and NodeID, a new salt. Each input is verified in full while it is read (checksums, authentication), the
/// output is decoded once more before it replaces the input, and the replacement is the backend's atomic write, so a
/// reader sees the old file or the new one, never a mix. Afterwards no file needs a previous key, which can then be
/// dropped from the config.
/// </summary>
public static class ReplicaReencryption
{
    /// <summary>
    /// Visits every file of every level (0–9) of <paramref name="client"/> in order and yields what it found and did.
    /// With <paramref name="dryRun"/> nothing is written: the pass only reports which files are under which key.
    /// </summary>
    /// <exception cref="LtxKeyMissingException">A file is sealed under a key the ring does not hold.</exception>
    /// <exception cref="LtxFormatException">A file is damaged: nothing of it was rewritten.</exception>
    public static async IAsyncEnumerable<ReencryptedFile> RunAsync(IReplicaClient client, LtxKeyRing keys, bool dryRun,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(keys);
        for (int level = 0; level <= LtxConstants.SnapshotLevel; level++)
        {
            var files = new List<LtxFileInfo>();
            await foreach (LtxFileInfo info in client.ListLtxFilesAsync(level, Txid.Zero, false, cancellationToken).ConfigureAwait(false))
            {
                files.Add(info);
            }
            foreach (LtxFileInfo info in files)
            {
                if (await ReplicaFileHeader.TryReadAsync(client, info, cancellationToken).ConfigureAwait(false) is not { } header)
                {
                    continue; // compaction or retention removed it since the listing
                }
                uint keyId = header.IsEncrypted ? header.KeyId : 0;
                if (keyId == keys.Current.KeyId || dryRun)
                {
                    yield return new ReencryptedFile(info, keyId, Rewritten: false);
                    continue;
                }
                if (keyId != 0)
                {
                    keys.Find(keyId); // a file under an unknown key fails here, naming the key id, before any download
                }
                try
                {
                    await RewriteAsync(client, info, keys, cancellationToken).ConfigureAwait(false);
                }
                catch (ReplicaFileNotFoundException)
                {
                    // Compaction or retention removed it since the listing: nothing left to rewrite.
                    continue;
                }
                yield return new ReencryptedFile(info, keyId, Rewritten: true);
            }
        }
    }

    /// <summary>Downloads the file, re-seals it into a temp file, checks the result decodes, and writes it over the original.</summary>
    private static async Task RewriteAsync(IReplicaClient client, LtxFileInfo info, LtxKeyRing keys, CancellationToken cancellationToken)
    {
        string dir = Directory.CreateTempSubdirectory("litestream-reencrypt-").FullName;
        try
        {
            string original = Path.Combine(dir, "original.ltx"), sealedCopy = Path.Combine(dir, "sealed.ltx");
            Stream download = await client.OpenLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, 0, 0, cancellationToken).ConfigureAwait(false);
            await using (download.ConfigureAwait(false))
            {
                await using var file = new FileStream(original, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                await download.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            }
            using (var input = new FileStream(original, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            using (var output = new FileStream(sealedCopy, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                LtxRewrite.Copy(input, output, nodeId: null, keys, keys.Current);
            }
            using (var check = new FileStream(sealedCopy, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            using (var decoder = new LtxDecoder(check, leaveOpen: true) { KeepPageIndex = false, Keys = keys })
            {
                decoder.DecodeHeader();
                byte[] page = new byte[decoder.Header.PageSize];
                while (decoder.TryDecodePage(page, out _))
                {
                }
                decoder.Close();
            }
            await using var upload = new FileStream(sealedCopy, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            await client.WriteLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, upload, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
