namespace Litestream.Testing;

/// <summary>
/// <c>rclone serve webdav</c> (Debian's rclone, .ci/install.sh) over a temporary directory, no rclone config.
/// Its PUT writes the target in place as the body arrives (so the client's temp name + MOVE matters).
/// </summary>
public sealed class RcloneWebDav : WebDavServer
{
    /// <summary>Starts rclone and waits until it accepts connections.</summary>
    public RcloneWebDav()
        : base("rclone-webdav", ProgramPath ?? throw new InvalidOperationException(Prerequisites.Of(Need.Rclone).Reason), static (dir, port) =>
        {
            System.IO.Directory.CreateDirectory(Path.Combine(dir, "data"));
            return ["serve", "webdav", Path.Combine(dir, "data"), "--addr", $"127.0.0.1:{port}", "--config", "/dev/null",
                "--user", User, "--pass", Password, "--log-level", "ERROR"];
        })
    {
    }

    /// <summary>The rclone binary, or null when it is not installed.</summary>
    public static string? ProgramPath { get; } = TestRepo.OnPath("rclone");
}
