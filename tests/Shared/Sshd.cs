using System.Diagnostics;

namespace Litestream.Testing;

/// <summary>
/// A local OpenSSH sshd (apt openssh-server, .ci/install.sh) serving internal-sftp on a free loopback port, run
/// as the user running the tests with its own temporary ed25519 host key and an authorized_keys holding one
/// temporary client key. Only that user can log in (a non-root sshd can switch to no other), with the key at
/// <see cref="ClientKeyPath"/>. Shared by Litestream.Tests and Litestream.Aot.Tests (linked source).
/// </summary>
public sealed class Sshd : LocalServer
{
    /// <summary>Starts sshd -D and waits until it accepts connections.</summary>
    public Sshd()
        : base("sshd", Program, Prepare)
    {
    }

    /// <summary>The OpenSSH server binary.</summary>
    public const string Program = "/usr/sbin/sshd";

    /// <summary>Why SFTP tests skip here, or null when sshd and ssh-keygen are installed.</summary>
    public static string? MissingReason { get; } = File.Exists(Program) && FindOnPath("ssh-keygen") is not null
        ? null
        : "sshd is not installed (bash .ci/install.sh installs openssh-server)";

    /// <summary>The user that logs in: the one running the tests (and the sshd).</summary>
    public static string User => Environment.UserName;

    /// <summary>The unencrypted private key authorized to log in.</summary>
    public string ClientKeyPath => Path.Combine(Directory, "client_key");

    /// <summary>The server's public host key line (<c>ssh-ed25519 AAAA… comment</c>), what host-key takes.</summary>
    public string HostKey => File.ReadAllText(Path.Combine(Directory, "host_key.pub")).Trim();

    /// <summary>A directory on the server for replicas (absolute; the server is this machine).</summary>
    public string DataDirectory => Path.Combine(Directory, "data");

    /// <summary>Host and port as the host key takes them.</summary>
    public string HostPort => $"127.0.0.1:{Port}";

    /// <summary>Keys, authorized_keys and sshd_config in <paramref name="dir"/>; returns sshd's arguments.</summary>
    private static IEnumerable<string> Prepare(string dir, int port)
    {
        KeyGen(Path.Combine(dir, "host_key"));
        KeyGen(Path.Combine(dir, "client_key"));
        File.Copy(Path.Combine(dir, "client_key.pub"), Path.Combine(dir, "authorized_keys"));
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "data"));
        if (Environment.UserName == "root")
        {
            // sshd as root checks for its privilege separation directory.
            System.IO.Directory.CreateDirectory("/run/sshd");
        }
        string config = Path.Combine(dir, "sshd_config");
        File.WriteAllLines(config,
        [
            "ListenAddress 127.0.0.1",
            $"Port {port}",
            $"HostKey {dir}/host_key",
            $"PidFile {dir}/sshd.pid",
            $"AuthorizedKeysFile {dir}/authorized_keys",
            "StrictModes no",
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "Subsystem sftp internal-sftp",
        ]);
        return ["-D", "-e", "-f", config];
    }

    private static void KeyGen(string path)
    {
        using var process = Process.Start(new ProcessStartInfo("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "litestream-test", "-f", path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ssh-keygen failed: {error}");
        }
    }

    private static string? FindOnPath(string program)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program)).FirstOrDefault(File.Exists);
}
