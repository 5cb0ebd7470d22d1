using Microsoft.Win32.SafeHandles;

namespace Litestream.Internal;

/// <summary>Durable file operations: fsync of files and directories, atomic replace.</summary>
internal static class FileUtil
{
    /// <summary>Flushes a directory entry to disk so a rename inside it survives a crash.</summary>
    public static void FsyncDirectory(string directory)
    {
        try
        {
            using SafeFileHandle handle = File.OpenHandle(directory, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.None);
            RandomAccess.FlushToDisk(handle);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // Some file systems refuse fsync on directories; the rename itself already happened.
        }
    }

    /// <summary>Renames <paramref name="temp"/> over <paramref name="destination"/> and fsyncs the directory.</summary>
    public static void CommitRename(string temp, string destination)
    {
        File.Move(temp, destination, overwrite: true);
        FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
    }

    /// <summary>Deletes a file, ignoring a file that is already gone.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
