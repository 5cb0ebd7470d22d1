using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

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
        : this(tls: null)
    {
    }

    private Azurite(Tls? tls)
        : base("azurite", ScriptPath ?? throw new InvalidOperationException(Prerequisites.Of(Need.Azurite).Reason),
            (dir, port) => ["--blobHost", "127.0.0.1", "--blobPort", port.ToString(), "-l", dir, "--skipApiVersionCheck", "--loose", "--silent",
                .. tls is null ? (string[])[] : ["--oauth", "basic", "--cert", tls.CertificatePath, "--key", tls.KeyPath]])
    {
        Certificate = tls?.Certificate;
        CertificatePath = tls?.CertificatePath;
    }

    /// <summary>
    /// Azurite over TLS with OAuth (<c>--oauth basic</c>: it accepts Entra ID bearer tokens, checking their issuer,
    /// audience and lifetime but not their signature, and still the account key), with a self-signed certificate for
    /// 127.0.0.1 made here.
    /// </summary>
    public static Azurite WithOAuth() => new(Tls.Create());

    /// <summary>The self-signed certificate of <see cref="WithOAuth"/>; null for plain http.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>The certificate as a PEM file (for SSL_CERT_FILE of a child process); null for plain http.</summary>
    public string? CertificatePath { get; }

    /// <summary>Makes <paramref name="handler"/> trust this server's certificate (and no other self-signed one).</summary>
    public void Trust(System.Net.Http.SocketsHttpHandler handler)
    {
        X509Certificate2 certificate = Certificate ?? throw new InvalidOperationException("this Azurite speaks plain http");
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, errors)
            => errors == System.Net.Security.SslPolicyErrors.None || (presented is not null && presented.GetRawCertData().AsSpan().SequenceEqual(certificate.RawData));
    }

    /// <summary>Path of azurite-blob: $AZURITE, else &lt;repo&gt;/.tools/node_modules/.bin/azurite-blob; null when absent.</summary>
    public static string? ScriptPath { get; } = FindTool("AZURITE", "azurite-blob");

    /// <summary>The blob endpoint, e.g. http://127.0.0.1:34567/devstoreaccount1.</summary>
    public string Endpoint => $"{(Certificate is null ? "http" : "https")}://127.0.0.1:{Port}/{Account}";

    /// <summary>A replica URL for the published exe (the key comes from the environment or the config).</summary>
    public string Url(string container, string path) => $"abs://{Account}@{container}/{path}?endpoint={Endpoint}";

    /// <summary>A self-signed certificate for 127.0.0.1 in PEM files of a temporary directory.</summary>
    private sealed record Tls(X509Certificate2 Certificate, string CertificatePath, string KeyPath)
    {
        public static Tls Create()
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, false, 0, critical: true));
            X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
            string dir = TestRepo.TempDir();
            string certificatePath = System.IO.Path.Combine(dir, "azurite.crt");
            string keyPath = System.IO.Path.Combine(dir, "azurite.key");
            File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
            File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
            return new Tls(certificate, certificatePath, keyPath);
        }
    }
}
