using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Litestream.Testing;

/// <summary>
/// A storage server the tests start as a child process (installed under .tools/ by .ci/install.sh) on a free
/// loopback port with a temporary data directory; killed and its data removed on dispose.
/// </summary>
public abstract class LocalServer : IDisposable
{
    private readonly string _name;
    private readonly ProcessStartInfo _start;
    private Process _process;

    /// <summary>Starts <paramref name="program"/> with the arguments <paramref name="arguments"/> makes of (data directory, port), and waits until the port accepts connections.</summary>
    protected LocalServer(string name, string program, Func<string, int, IEnumerable<string>> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        _name = name;
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"litestream-{name}", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Port = FreePort();
        _start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in arguments(Directory, Port))
        {
            _start.ArgumentList.Add(arg);
        }
        foreach (KeyValuePair<string, string> variable in environment ?? new Dictionary<string, string>())
        {
            _start.Environment[variable.Key] = variable.Value;
        }
        _process = Launch();
    }

    /// <summary>Kills the server process as a crash would; its data directory stays for <see cref="Start"/>.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
    }

    /// <summary>Starts the server again after <see cref="Kill"/>: the same port, the same data.</summary>
    public void Start()
    {
        Kill();
        _process.Dispose();
        _process = Launch();
    }

    /// <summary>Starts the process and waits until its port accepts connections.</summary>
    private Process Launch()
    {
        Process process = Process.Start(_start)!;
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        // A loaded machine (several builds at once) has taken Azurite over 30 s to start.
        while (!CanConnect(Port))
        {
            if (process.HasExited || deadline.Elapsed > TimeSpan.FromMinutes(5))
            {
                _process = process;
                Dispose();
                throw new InvalidOperationException($"{_name} did not start on port {Port}");
            }
            Thread.Sleep(50);
        }
        return process;
    }

    /// <summary>The loopback port the server listens on.</summary>
    public int Port { get; }

    /// <summary>The server's data directory.</summary>
    public string Directory { get; }

    /// <summary>Stops the server and removes its data.</summary>
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
        GC.SuppressFinalize(this);
    }

    /// <summary>A free loopback TCP port (bound and released; the small race is harmless in tests).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The file $<paramref name="variable"/> names, else &lt;repo&gt;/.tools/node_modules/.bin/<paramref name="bin"/>; null when absent.</summary>
    protected static string? FindTool(string variable, string bin)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }
        return TestRepo.ExistingFile(".tools", "node_modules", ".bin", bin);
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
}
