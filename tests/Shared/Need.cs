namespace Litestream.Testing;

/// <summary>
/// Something a test needs from outside its own process: a published binary, a server, a tool, the shared
/// fixtures, or a mode it runs in. Named in <see cref="RequiresFactAttribute"/>, <see cref="RequiresTheoryAttribute"/>
/// and <see cref="RequiresAttribute"/>; each one's check and how to get it are defined once, in
/// <see cref="Prerequisites"/>. A new prerequisite is a member here and one line there (the compiler
/// refuses a member without its line).
/// </summary>
public enum Need
{
    /// <summary>The repository checkout (examples, src/ to pack, scripts).</summary>
    Repo,
    /// <summary>python3 with its sqlite3 module: the writer processes (tests/Shared/sqlite_writer.py) and checks.</summary>
    Python,
    /// <summary>The sqlite3 command-line shell.</summary>
    Sqlite3,
    /// <summary>../shared/spec beside the checkout (conformance fixtures and tools).</summary>
    Spec,
    /// <summary>python3 and ../shared/spec/tools/ltx_ref.py, the independent reference decoder.</summary>
    ReferenceTool,
    /// <summary>The published exe, bin/linux-x64/litestream.</summary>
    Exe,
    /// <summary>The published SQLite extension, bin/linux-x64/litestream-vfs.so.</summary>
    VfsExtension,
    /// <summary>A python3 whose sqlite3 module can load extensions.</summary>
    ExtensionPython,
    /// <summary>python3 -m venv with pip (Debian's python3-venv) for the extension-loading python3: the wheel's test installs into one.</summary>
    Venv,
    /// <summary>node, npm and better-sqlite3 built in .tools/better-sqlite3: the npm package's test loads the extension into it.</summary>
    BetterSqlite3,
    /// <summary>The cross-published bin/linux-arm64/litestream.</summary>
    Arm64Exe,
    /// <summary>qemu-aarch64 (qemu-user) to run linux-arm64 programs here.</summary>
    Qemu,
    /// <summary>The gcc cross toolchain for linux-arm64 NativeAOT links.</summary>
    Arm64Toolchain,
    /// <summary>s3rver, the local S3 server.</summary>
    S3rver,
    /// <summary>Azurite, the local Azure Blob server.</summary>
    Azurite,
    /// <summary>OpenSSH's sshd and ssh-keygen, for a local SFTP server.</summary>
    Sshd,
    /// <summary>rclone, whose <c>serve webdav</c> is one local WebDAV server.</summary>
    Rclone,
    /// <summary>nginx with the dav-ext module, the other local WebDAV server.</summary>
    NginxDav,
    /// <summary>nats-server (JetStream), for a local NATS object store.</summary>
    NatsServer,
    /// <summary>node and firebase-tools, whose Cloud Storage emulator is a local GCS JSON API.</summary>
    GcsEmulator,
    /// <summary>Prometheus and promtool (Debian's package), to scrape and lint /metrics.</summary>
    Prometheus,
    /// <summary>The upstream Litestream v0.3.13 binary.</summary>
    Upstream,
    /// <summary>zsh and fish, to load the completion scripts into.</summary>
    Shells,
    /// <summary>groff, man and col, to format and render the man page.</summary>
    ManTools,
    /// <summary>dpkg-deb, rpm, file and systemd-analyze, to inspect and verify the packages deploy/package.sh builds.</summary>
    PackageTools,
    /// <summary>Running as root (chroot, dpkg -i).</summary>
    Root,
    /// <summary>Permission to mount a tmpfs (root).</summary>
    Tmpfs,
    /// <summary>By design, not a missing tool: long mode (LITESTREAM_LONG=1, tests/long.sh), never in CI.</summary>
    LongMode,
    /// <summary>By design, not a missing tool: hardware intrinsics on (test.sh's second Ltx pass turns them off).</summary>
    HostIntrinsics,
}
