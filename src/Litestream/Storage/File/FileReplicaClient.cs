using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Litestream.Internal;
using Litestream.Ltx;

namespace Litestream.Storage.File;

/// <summary>
/// A replica in a local directory (upstream <c>file.ReplicaClient</c>): LTX files at
/// <c>&lt;path&gt;/ltx/&lt;level&gt;/&lt;min&gt;-&lt;max&gt;.ltx</c>, written atomically (temp file, fsync, rename,
/// directory fsync), with the file modification time set to the LTX header timestamp so listings carry
/// the creation time without opening files.
/// </summary>
[ReplicaBackend("file")]
public sealed partial class FileReplicaClient : IReplicaClient, IReplicaObjectTree
{
    /// <summary>Creates a client rooted at <paramref name="path"/> (made absolute).</summary>
    public FileReplicaClient(string path)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw new ArgumentException("file replica path required", nameof(path));
        }
        Root = System.IO.Path.GetFullPath(path);
    }

    /// <summary>Creates the client from settings (used by the generated backend registry).</summary>
    /// <exception cref="ArgumentException">No path is set.</exception>
    public static IReplicaClient Create(FileReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new FileReplicaClient(settings.Path ?? throw new ArgumentException("file replica path required"));
    }

    /// <inheritdoc />
    public string Type => "file";

    /// <summary>The replica directory.</summary>
    public string Root { get; }

    /// <summary>Directory of one level.</summary>
    public string LevelDirectory(int level) => System.IO.Path.Combine(Root, "ltx", level.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Path of one LTX file.</summary>
    public string LtxFilePath(int level, Txid minTxid, Txid maxTxid) => System.IO.Path.Combine(LevelDirectory(level), LtxFileName.Format(minTxid, maxTxid));

    /// <inheritdoc />
    public ValueTask InitAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Every file of this replica is local: its path.</summary>
    public bool TryGetLocalPath(int level, Txid minTxid, Txid maxTxid, [NotNullWhen(true)] out string? path)
    {
        path = LtxFilePath(level, minTxid, maxTxid);
        return true;
    }

    /// <inheritdoc />
    public IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken)
    {
        return List(cancellationToken);

        async IAsyncEnumerable<LtxFileInfo> List([EnumeratorCancellation] CancellationToken token)
        {
            List<LtxFileInfo> files = ListLevel(level, seek);
            files.Sort(static (a, b) => a.MinTxid != b.MinTxid ? a.MinTxid.CompareTo(b.MinTxid) : a.MaxTxid.CompareTo(b.MaxTxid));
            foreach (LtxFileInfo file in files)
            {
                token.ThrowIfCancellationRequested();
                yield return file;
            }
            await Task.CompletedTask.ConfigureAwait(false);
        }
    }

    private List<LtxFileInfo> ListLevel(int level, Txid seek)
    {
        var op = ReplicaOperation.Start(Type, ReplicaOperation.List);
        var files = new List<LtxFileInfo>();
        try
        {
            string dir = LevelDirectory(level);
            if (Directory.Exists(dir))
            {
                foreach (string path in Directory.EnumerateFiles(dir))
                {
                    string name = System.IO.Path.GetFileName(path);
                    if (!LtxFileName.TryParse(name, out Txid min, out Txid max) || min < seek)
                    {
                        continue;
                    }
                    var info = new FileInfo(path);
                    if (info.Exists)
                    {
                        FileUtil.RequireRegularFile(path);
                        files.Add(new LtxFileInfo(level, min, max, info.Length, new DateTimeOffset(info.LastWriteTimeUtc)));
                    }
                }
            }
            op.Succeeded();
            return files;
        }
        catch (Exception e) when (op.Failed(e))
        {
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
    {
        string path = LtxFilePath(level, minTxid, maxTxid);
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Get);
        FileStream stream;
        try
        {
            FileUtil.RequireRegularFile(path);
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            var notFound = new ReplicaFileNotFoundException(path, e);
            op.Failed(notFound);
            throw notFound;
        }
        if (offset > 0)
        {
            stream.Position = offset;
        }
        long remaining = Math.Max(0, stream.Length - offset);
        op.Succeeded(size > 0 ? Math.Min(size, remaining) : remaining);
        return ValueTask.FromResult<Stream>(size > 0 ? new BoundedStream(stream, size) : stream);
    }

    /// <inheritdoc />
    public async ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
    {
        string path = LtxFilePath(level, minTxid, maxTxid);
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Put);
        string dir = System.IO.Path.GetDirectoryName(path)!;
        Directory.CreateDirectory(dir);
        string temp = path + ".tmp";
        long timestamp = 0;
        long size;
        try
        {
            await using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024))
            {
                byte[] header = new byte[LtxConstants.HeaderSize];
                int read = await ReadAtLeastAsync(data, header, cancellationToken).ConfigureAwait(false);
                if (read >= LtxConstants.HeaderSize)
                {
                    timestamp = BinaryPrimitives.ReadInt64BigEndian(header.AsSpan(32));
                }
                await output.WriteAsync(header.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                await data.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
                output.Flush(flushToDisk: true);
                size = output.Length;
            }
            DateTime created = LtxHeader.TimestampToTime(timestamp).UtcDateTime;
            System.IO.File.SetLastWriteTimeUtc(temp, created);
            FileUtil.CommitRename(temp, path);
            op.Succeeded(size);
            return new LtxFileInfo(level, minTxid, maxTxid, size, new DateTimeOffset(created));
        }
        catch (Exception e)
        {
            op.Failed(e);
            FileUtil.TryDelete(temp);
            throw;
        }
    }

    /// <summary>A hard link under a temporary name, renamed into place: no byte is read or written. Null across file systems.</summary>
    public ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        string from = LtxFilePath(source.Level, source.MinTxid, source.MaxTxid);
        string path = LtxFilePath(level, source.MinTxid, source.MaxTxid);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        string temp = path + ".tmp";
        FileUtil.TryDelete(temp);
        if (!FileUtil.TryHardLink(from, temp))
        {
            return ValueTask.FromResult<LtxFileInfo?>(null);
        }
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Put);
        try
        {
            FileUtil.CommitRename(temp, path);
        }
        catch (Exception e)
        {
            op.Failed(e);
            FileUtil.TryDelete(temp);
            throw;
        }
        op.Succeeded(0);
        return ValueTask.FromResult<LtxFileInfo?>(source with { Level = level });
    }

    /// <inheritdoc />
    public ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Delete);
        foreach (LtxFileInfo file in files)
        {
            FileUtil.TryDelete(LtxFilePath(file.Level, file.MinTxid, file.MaxTxid));
        }
        if (files.Count > 0)
        {
            op.Succeeded(count: files.Count);
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DeleteAllAsync(CancellationToken cancellationToken)
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <inheritdoc />
    async IAsyncEnumerable<ReplicaObject> IReplicaObjectTree.ListObjectsAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var dir = new DirectoryInfo(System.IO.Path.Combine(Root, prefix));
        if (!dir.Exists)
        {
            yield break;
        }
        // Links are not followed: a loop of them must not make a listing endless.
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        foreach (FileInfo file in dir.EnumerateFiles("*", options))
        {
            cancellationToken.ThrowIfCancellationRequested();
            string relative = System.IO.Path.GetRelativePath(Root, file.FullName).Replace(System.IO.Path.DirectorySeparatorChar, '/');
            yield return new ReplicaObject(relative, file.Length, new DateTimeOffset(file.LastWriteTimeUtc));
        }
        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <inheritdoc />
    ValueTask<Stream> IReplicaObjectTree.OpenObjectAsync(string name, CancellationToken cancellationToken)
        => OpenRegularFile(System.IO.Path.Combine(Root, name));

    private static ValueTask<Stream> OpenRegularFile(string path)
    {
        try
        {
            FileUtil.RequireRegularFile(path);
            return ValueTask.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ReplicaFileNotFoundException(path, e);
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"file://{Root}";

    private static async ValueTask<int> ReadAtLeastAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
        => await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
}
