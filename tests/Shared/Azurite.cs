namespace Litestream.Testing;

/// <summary>
/// A local Azurite blob service (npm azurite, installed into .tools/ by .ci/install.sh) on a free loopback
/// port with a temporary data directory, account <see cref="Account"/> with Azurite's well-known key. Tests
/// that start it declare <see cref="Need.Azurite"/>.
/// </summary>
public sealed class Azurite : LocalServer
{
    /// <summary>Azurite's built-in account.</summary>
    public const string Account = "devstoreaccount1";
    /// <summary>Azurite's well-known key for <see cref="Account"/> (public, documented by Microsoft).</summary>
    public const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>Starts azurite-blob and waits until it accepts connections.</summary>
    public Azurite()
        : base("azurite", ScriptPath ?? throw new InvalidOperationException(Prerequisites.Of(Need.Azurite).Reason),
            static (dir, port) => ["--blobHost", "127.0.0.1", "--blobPort", port.ToString(), "-l", dir, "--skipApiVersionCheck", "--loose", "--silent"])
    {
    }

    /// <summary>Path of azurite-blob: $AZURITE, else &lt;repo&gt;/.tools/node_modules/.bin/azurite-blob; null when absent.</summary>
    public static string? ScriptPath { get; } = FindTool("AZURITE", "azurite-blob");

    /// <summary>The blob endpoint, e.g. http://127.0.0.1:34567/devstoreaccount1.</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}/{Account}";

    /// <summary>A replica URL for the published exe (the key comes from the environment or the config).</summary>
    public string Url(string container, string path) => $"abs://{Account}@{container}/{path}?endpoint={Endpoint}";
}
