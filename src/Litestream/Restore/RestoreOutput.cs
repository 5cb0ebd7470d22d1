using Litestream.Internal;

namespace Litestream.Restore;

/// <summary>
/// Where a restore puts its result, and what may stand beside it. SQLite reads a database together with the
/// <c>-wal</c>, <c>-shm</c> and <c>-journal</c> files beside it: a leftover one (another database's, from a
/// killed process) is replayed into the restored file on its first open, so "restored" would be a lie. A
/// restore therefore refuses to start while one exists (upstream v0.5 <c>prepareOutputPath</c>), and checks
/// again at the rename, as a file may have appeared during a long download. Without force the result lands
/// only where nothing stands (an empty output file excepted, as upstream); with force the old database and
/// its files are deleted just before the rename, the sidecars first, so a failed or interrupted forced
/// restore leaves the old database as it was.
/// </summary>
internal static class RestoreOutput
{
    /// <summary>The files SQLite keeps beside a database.</summary>
    public static readonly string[] SidecarSuffixes = ["-wal", "-shm", "-journal"];

    /// <summary>Checks the output before anything is fetched.</summary>
    /// <exception cref="OutputExistsException">The output, or a SQLite file beside it, exists and <paramref name="force"/> is false.</exception>
    public static void Check(string output, bool force)
    {
        if (Directory.Exists(output))
        {
            throw new IOException($"cannot restore, output path is a directory: {output}");
        }
        if (force)
        {
            return;
        }
        if (File.Exists(output) && new FileInfo(output).Length > 0)
        {
            throw new OutputExistsException($"output file already exists: {output}", "choose another -o path, or pass -force to replace it");
        }
        RefuseSidecars(output, "the restore output", ForceHint(output));
    }

    /// <summary>Refuses a <c>-wal</c>, <c>-shm</c> or <c>-journal</c> beside <paramref name="database"/>.</summary>
    /// <exception cref="OutputExistsException">One exists.</exception>
    public static void RefuseSidecars(string database, string what, string hint)
    {
        foreach (string suffix in SidecarSuffixes)
        {
            string sidecar = database + suffix;
            if (File.Exists(sidecar) || Directory.Exists(sidecar))
            {
                throw new OutputExistsException($"{sidecar} exists beside {what}: SQLite would apply it to the restored database", hint);
            }
        }
    }

    private static string ForceHint(string output)
        => $"delete it if no process has {output} open, or pass -force to replace the database and its -wal/-shm/-journal";

    /// <summary>
    /// Deletes <paramref name="temp"/> and the SQLite files beside it: before a restore (an interrupted one's
    /// <c>-wal</c> would be replayed into the new temp file by the integrity check) and after a failed one.
    /// </summary>
    public static void DeleteTemp(string temp)
    {
        FileUtil.TryDelete(temp);
        foreach (string suffix in SidecarSuffixes)
        {
            FileUtil.TryDelete(temp + suffix);
        }
    }

    /// <summary>Renames the verified, fsynced <paramref name="temp"/> to <paramref name="output"/> (see the class summary).</summary>
    /// <exception cref="OutputExistsException">Without force, the output or a SQLite file beside it appeared during the restore.</exception>
    public static void Commit(string temp, string output, bool force)
    {
        if (force)
        {
            foreach (string suffix in SidecarSuffixes)
            {
                FileUtil.TryDelete(output + suffix);
            }
            FileUtil.CommitRename(temp, output);
            return;
        }
        RefuseSidecars(output, "the restore output", ForceHint(output));
        bool emptyOutput = File.Exists(output) && new FileInfo(output).Length == 0;
        try
        {
            // No overwrite: a database created at the output path meanwhile is never replaced.
            FileUtil.CommitRename(temp, output, overwrite: emptyOutput);
        }
        catch (IOException) when (File.Exists(output) && !emptyOutput)
        {
            throw new OutputExistsException($"output file already exists: {output} (created during the restore)", "choose another -o path, or pass -force to replace it");
        }
    }
}
