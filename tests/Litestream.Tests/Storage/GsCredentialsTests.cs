using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Litestream.Storage;
using Litestream.Storage.Gs;

namespace Litestream.Tests.Storage;

/// <summary>
/// Application Default Credentials for gs replicas: a service account key signs a JWT (RS256) that a token endpoint
/// exchanges for an access token, kept until near its expiry; the metadata server otherwise. The token endpoint here
/// is a loopback listener that verifies the signature with the key's public half, as Google's does.
/// </summary>
public sealed partial class GsCredentialsTests : IDisposable
{
    private const string Email = "replicator@example-project.iam.gserviceaccount.com";
    private readonly string _dir = Directory.CreateTempSubdirectory("litestream-gs-cred-").FullName;
    private readonly RSA _key = RSA.Create(2048);
    private readonly HttpListener _listener = new();
    private readonly int _port = Litestream.Testing.LocalServer.FreePort();
    private readonly List<string> _requests = [];

    public GsCredentialsTests()
    {
        _listener.Prefixes.Add($"http://127.0.0.1:{_port}/");
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Close();
        _key.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string TokenUri => $"http://127.0.0.1:{_port}/token";

    private string WriteKeyFile(string? pem = null)
    {
        string path = Path.Combine(_dir, "key.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["type"] = "service_account",
            ["client_email"] = Email,
            ["private_key_id"] = "kid-1",
            ["private_key"] = pem ?? _key.ExportPkcs8PrivateKeyPem(),
            ["token_uri"] = TokenUri,
        }));
        return path;
    }

    /// <summary>Answers token requests: a verified JWT gets a token, anything else Google's invalid_grant.</summary>
    private async Task ServeAsync(int count, Func<HttpListenerRequest, string, (int Status, string Body)> answer)
    {
        for (int i = 0; i < count; i++)
        {
            HttpListenerContext context = await _listener.GetContextAsync();
            string body = await new StreamReader(context.Request.InputStream).ReadToEndAsync();
            lock (_requests)
            {
                _requests.Add($"{context.Request.HttpMethod} {context.Request.Url!.AbsolutePath}");
            }
            (int status, string text) = answer(context.Request, body);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    private (int, string) VerifyJwt(string body)
    {
        Dictionary<string, string> form = body.Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => Uri.UnescapeDataString(p[1].Replace('+', ' ')));
        if (form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return (400, """{"error":"unsupported_grant_type"}""");
        }
        string[] parts = form["assertion"].Split('.');
        bool valid = _key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), FromBase64Url(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using JsonDocument header = JsonDocument.Parse(FromBase64Url(parts[0]));
        using JsonDocument claims = JsonDocument.Parse(FromBase64Url(parts[1]));
        JsonElement c = claims.RootElement;
        bool right = valid && header.RootElement.GetProperty("alg").GetString() == "RS256" && header.RootElement.GetProperty("kid").GetString() == "kid-1"
            && c.GetProperty("iss").GetString() == Email && c.GetProperty("aud").GetString() == TokenUri
            && c.GetProperty("scope").GetString() == GsCredentials.Scope
            && c.GetProperty("exp").GetInt64() - c.GetProperty("iat").GetInt64() == 3600
            && Math.Abs(c.GetProperty("iat").GetInt64() - DateTimeOffset.UtcNow.ToUnixTimeSeconds()) < 60;
        return right ? (200, """{"access_token":"ya29.granted-token","expires_in":3599,"token_type":"Bearer"}""")
            : (400, """{"error":"invalid_grant","error_description":"Invalid JWT Signature."}""");
    }

    private static byte[] FromBase64Url(string text)
    {
        string s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '='));
    }

    [Fact]
    public async Task ServiceAccount_SignedJwtExchangedForToken_TokenKeptUntilNearExpiry()
    {
        GsCredentials credentials = GsCredentials.FromFile(WriteKeyFile(), "GOOGLE_APPLICATION_CREDENTIALS");
        Assert.Equal($"service account {Email} (GOOGLE_APPLICATION_CREDENTIALS {_dir}/key.json)", credentials.Description);
        Task server = ServeAsync(1, (_, body) => VerifyJwt(body));
        using var http = new HttpClient();
        Assert.Equal("Bearer ya29.granted-token", (await credentials.GetAuthorizationAsync(http, default))!.ToString());
        Assert.Equal("Bearer ya29.granted-token", (await credentials.GetAuthorizationAsync(http, default))!.ToString());
        await server;
        Assert.Equal(["POST /token"], _requests);
    }

    [Fact]
    public async Task ServiceAccount_Refused_OneLineWithTheReason_NeverTheKey()
    {
        // A key the endpoint does not know: the signature check fails, as Google's does for a deleted key.
        using RSA other = RSA.Create(2048);
        string pem = other.ExportPkcs8PrivateKeyPem();
        GsCredentials credentials = GsCredentials.FromFile(WriteKeyFile(pem), "GOOGLE_APPLICATION_CREDENTIALS");
        Task server = ServeAsync(1, (_, body) => VerifyJwt(body));
        using var http = new HttpClient();
        var error = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await credentials.GetAuthorizationAsync(http, default));
        await server;
        Assert.Equal($"gs: get an access token from {TokenUri} for service account {Email} (GOOGLE_APPLICATION_CREDENTIALS {_dir}/key.json): HTTP 400: invalid_grant: Invalid JWT Signature.", error.Message);
        Assert.Equal("check the credentials file: the key may be revoked or the account deleted (make a new key in the Cloud console)", error.Hint);
        string body = pem.Split('\n')[1];
        Assert.DoesNotContain(body, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void File_Unusable_SaysWhatIsWrong_WithoutItsContent()
    {
        string path = Path.Combine(_dir, "bad.json");
        File.WriteAllText(path, "{\"private_key\": \"-----BEGIN PRIVATE KEY-----secret");
        Assert.Equal($"gs: GOOGLE_APPLICATION_CREDENTIALS {path}: not valid JSON", Assert.Throws<ArgumentException>(() => GsCredentials.FromFile(path, "GOOGLE_APPLICATION_CREDENTIALS")).Message);
        File.WriteAllText(path, """{"type":"impersonated_service_account","audience":"x"}""");
        Assert.Equal($"gs: GOOGLE_APPLICATION_CREDENTIALS {path}: not a service account key (\"type\": \"service_account\" with client_email and private_key), authorized_user or external_account credentials",
            Assert.Throws<ArgumentException>(() => GsCredentials.FromFile(path, "GOOGLE_APPLICATION_CREDENTIALS")).Message);
        File.WriteAllText(path, $$"""{"type":"service_account","client_email":"{{Email}}","private_key":"not a pem secret"}""");
        var error = Assert.Throws<ArgumentException>(() => GsCredentials.FromFile(path, "GOOGLE_APPLICATION_CREDENTIALS"));
        Assert.Equal($"gs: GOOGLE_APPLICATION_CREDENTIALS {path}: private_key is not a PEM RSA private key", error.Message);
        Assert.StartsWith($"gs: GOOGLE_APPLICATION_CREDENTIALS {_dir}/missing.json: cannot read it: ",
            Assert.Throws<ArgumentException>(() => GsCredentials.FromFile(Path.Combine(_dir, "missing.json"), "GOOGLE_APPLICATION_CREDENTIALS")).Message);
    }

    [Fact]
    public async Task NoFile_MetadataServer_AskedWithItsHeader()
    {
        var environment = new Dictionary<string, string> { ["HOME"] = _dir, ["GCE_METADATA_HOST"] = $"127.0.0.1:{_port}" };
        GsCredentials credentials = GsCredentials.Find(name => environment.GetValueOrDefault(name));
        Task server = ServeAsync(1, (request, _) => request.Headers["Metadata-Flavor"] == "Google"
            ? (200, """{"access_token":"ya29.from-metadata","expires_in":3599,"token_type":"Bearer"}""")
            : (403, "{}"));
        using var http = new HttpClient();
        Assert.Equal("Bearer ya29.from-metadata", (await credentials.GetAuthorizationAsync(http, default))!.ToString());
        await server;
        Assert.Equal(["GET /computeMetadata/v1/instance/service-accounts/default/token"], _requests);
    }

    [Fact]
    public async Task NoFile_NoMetadataServer_FailsPromptly_HintNamesTheVariable()
    {
        int closed = Litestream.Testing.LocalServer.FreePort();
        var environment = new Dictionary<string, string> { ["HOME"] = _dir, ["GCE_METADATA_HOST"] = $"127.0.0.1:{closed}" };
        GsCredentials credentials = GsCredentials.Find(name => environment.GetValueOrDefault(name));
        using var http = new HttpClient();
        var error = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await credentials.GetAuthorizationAsync(http, default));
        Assert.StartsWith($"gs: get an access token from http://127.0.0.1:{closed}/computeMetadata/v1/instance/service-accounts/default/token for the metadata server at 127.0.0.1:{closed} (no GOOGLE_APPLICATION_CREDENTIALS): ", error.Message);
        Assert.Equal("set GOOGLE_APPLICATION_CREDENTIALS to a service account's JSON key file, or run on Google Cloud with a service account attached", error.Hint);
    }
}
