using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Litestream.Testing;

/// <summary>
/// A local s3rver (npm s3rver@3.7.1, installed into .tools/ by .ci/install.sh) on a free loopback port
/// with a temporary data directory and the bucket <see cref="Bucket"/>. Tests that need it skip with
/// <see cref="MissingReason"/> when it is not installed. Shared by Litestream.Tests and
/// Litestream.Aot.Tests (linked source).
/// </summary>
public sealed class S3rver : IDisposable
{
    /// <summary>The bucket s3rver creates at start.</summary>
    public const string Bucket = "bkt";
    /// <summary>s3rver's fixed credentials (both the key id and the secret).</summary>
    public const string Credential = "S3RVER";

    private readonly Process _process;

    /// <summary>Starts s3rver and waits until it accepts connections.</summary>
    public S3rver()
    {
        if (ScriptPath is null)
        {
            throw new InvalidOperationException(MissingReason);
        }
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "litestream-s3rver", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Port = FreePort();
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in new[] { ScriptPath, "-d", Directory, "-a", "127.0.0.1", "-p", Port.ToString(), "--configure-bucket", Bucket })
        {
            psi.ArgumentList.Add(arg);
        }
        // Without the legacy provider s3rver's paged listings fail with 500 on current Node (INFRA.md "S3").
        psi.Environment["NODE_OPTIONS"] = "--openssl-legacy-provider";
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += static (_, _) => { };
        _process.ErrorDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (!CanConnect(Port))
        {
            if (_process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(20))
            {
                Dispose();
                throw new InvalidOperationException($"s3rver did not start on port {Port}");
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>Path of s3rver's bin script: $S3RVER, else &lt;repo&gt;/.tools/node_modules/.bin/s3rver; null when absent.</summary>
    public static string? ScriptPath { get; } = FindScript();

    /// <summary>Why S3 tests skip here.</summary>
    public const string MissingReason = "s3rver is not installed (bash .ci/install.sh puts it in .tools/, or set S3RVER)";

    /// <summary>The loopback port s3rver listens on.</summary>
    public int Port { get; }

    /// <summary>s3rver's data directory (objects live under &lt;dir&gt;/&lt;bucket&gt;/&lt;key&gt;).</summary>
    public string Directory { get; }

    /// <summary>The endpoint URL, e.g. http://127.0.0.1:34567.</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>A replica URL for the published exe.</summary>
    public string Url(string path) => $"s3://{Bucket}/{path}?endpoint={Endpoint}&forcePathStyle=true&region=us-east-1";

    /// <summary>A litestream.yml with one database replicated to <paramref name="path"/> in the bucket through <paramref name="endpoint"/>.</summary>
    public static string Config(string db, string path, string endpoint, string keyId, string secret) => $"""
        dbs:
          - path: {db}
            replicas:
              - type: s3
                bucket: {Bucket}
                path: {path}
                endpoint: {endpoint}
                region: us-east-1
                force-path-style: true
                access-key-id: {keyId}
                secret-access-key: {secret}

        """;

    /// <summary>Stops s3rver and removes its data.</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by the dying server: the temp directory is cleaned by the OS.
        }
    }

    /// <summary>A free loopback TCP port (bound and released; the small race is harmless in tests).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static bool CanConnect(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static string? FindScript()
    {
        if (Environment.GetEnvironmentVariable("S3RVER") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Litestream.slnx")))
            {
                string script = System.IO.Path.Combine(dir.FullName, ".tools", "node_modules", ".bin", "s3rver");
                return File.Exists(script) ? script : null;
            }
        }
        return null;
    }
}
