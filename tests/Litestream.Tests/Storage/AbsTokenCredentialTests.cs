using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Litestream.Storage.Abs;

namespace Litestream.Tests.Storage;

/// <summary>
/// Entra ID tokens for abs replicas without a key or SAS (upstream's default credential chain, the parts without an
/// SDK): each source sends what Entra ID, IMDS or App Service expect, to a loopback endpoint that records it; tokens
/// are kept until near expiry; failures are one line with a hint and no secret; IMDS absent is bounded.
/// </summary>
public sealed class AbsTokenCredentialTests : IDisposable
{
    private const string Scope = "https://storage.azure.com/.default";
    private const string ClientId = "0b6d4e1a-5c3f-4a62-9f0e-1d2c3b4a5f60";
    private const string Secret = "s3cr3t~value-that-must-never-leak";
    private readonly EntraTokenEndpoint _endpoint = new();
    private readonly string _dir = TestRepo.TempDir();

    public void Dispose()
    {
        _endpoint.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static AbsTokenCredential Find(Dictionary<string, string> environment)
        => AbsTokenCredential.Find(name => environment.GetValueOrDefault(name), TimeSpan.FromSeconds(5));

    private static ValueTask<AbsTokenCredential.AccessToken> Token(AbsTokenCredential credential) => credential.GetTokenAsync(Scope, CancellationToken.None);

    [Fact]
    public async Task ServicePrincipal_PostsClientCredentials_ToTheTenant_AndKeepsTheToken()
    {
        AbsTokenCredential credential = Find(new()
        {
            ["AZURE_TENANT_ID"] = EntraTokenEndpoint.Tenant,
            ["AZURE_CLIENT_ID"] = ClientId,
            ["AZURE_CLIENT_SECRET"] = Secret,
            ["AZURE_AUTHORITY_HOST"] = _endpoint.Url,
        });
        AbsTokenCredential.AccessToken first = await Token(credential);
        AbsTokenCredential.AccessToken second = await Token(credential);

        EntraTokenEndpoint.Request request = Assert.Single(_endpoint.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal($"/{EntraTokenEndpoint.Tenant}/oauth2/v2.0/token", request.Path);
        Assert.Equal(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = ClientId,
            ["client_secret"] = Secret,
            ["scope"] = Scope,
        }, request.Form);
        Assert.Equal(first.Token, second.Token);
        Assert.InRange(first.ExpiresOn, DateTimeOffset.UtcNow.AddMinutes(59), DateTimeOffset.UtcNow.AddMinutes(61));
        Assert.Contains(ClientId, credential.Description);
        Assert.DoesNotContain(Secret, credential.Description);
    }

    [Fact]
    public async Task WorkloadIdentity_SendsTheFederatedTokenFile_AsClientAssertion_ReadAtEachRequest()
    {
        string file = Path.Combine(_dir, "azure-identity-token");
        File.WriteAllText(file, "eyJhbGciOiJSUzI1NiJ9.first.sig\n");
        _endpoint.Lifetime = TimeSpan.FromSeconds(4);   // renewed at half life: 2 s
        AbsTokenCredential credential = Find(new()
        {
            ["AZURE_TENANT_ID"] = EntraTokenEndpoint.Tenant,
            ["AZURE_CLIENT_ID"] = ClientId,
            ["AZURE_FEDERATED_TOKEN_FILE"] = file,
            ["AZURE_AUTHORITY_HOST"] = _endpoint.Url,
        });
        await Token(credential);
        File.WriteAllText(file, "eyJhbGciOiJSUzI1NiJ9.rotated.sig");
        var clock = Stopwatch.StartNew();
        while (_endpoint.Requests.Count < 2)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "no renewed token within 30 s");
            await Task.Delay(50);
            await Token(credential);
        }
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30));

        IReadOnlyList<EntraTokenEndpoint.Request> requests = _endpoint.Requests;
        Assert.Equal(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = ClientId,
            ["scope"] = Scope,
            ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ["client_assertion"] = "eyJhbGciOiJSUzI1NiJ9.first.sig",
        }, requests[0].Form);
        Assert.Equal("eyJhbGciOiJSUzI1NiJ9.rotated.sig", requests[1].Form["client_assertion"]);
        Assert.Equal($"/{EntraTokenEndpoint.Tenant}/oauth2/v2.0/token", requests[1].Path);
    }

    [Fact]
    public async Task Imds_GetsTheStorageResource_WithTheMetadataHeader_AndTheUserAssignedClientId()
    {
        AbsTokenCredential credential = Find(new()
        {
            ["AZURE_CLIENT_ID"] = ClientId,
            ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = _endpoint.Url,
        });
        AbsTokenCredential.AccessToken token = await Token(credential);

        EntraTokenEndpoint.Request request = Assert.Single(_endpoint.Requests);
        Assert.Equal("GET", request.Method);
        Assert.Equal("/metadata/identity/oauth2/token", request.Path);
        Assert.Equal("2018-02-01", request.Query["api-version"]);
        Assert.Equal("https://storage.azure.com", request.Query["resource"]);
        Assert.Equal(ClientId, request.Query["client_id"]);
        Assert.Equal("true", request.Headers["Metadata"]);
        // IMDS's expires_on is a string of Unix seconds.
        Assert.InRange(token.ExpiresOn, DateTimeOffset.UtcNow.AddMinutes(59), DateTimeOffset.UtcNow.AddMinutes(61));
    }

    [Fact]
    public async Task AppService_SendsTheIdentityHeader_ToIdentityEndpoint()
    {
        const string header = "9f1c7f2e-app-service-header";
        AbsTokenCredential credential = Find(new()
        {
            ["IDENTITY_ENDPOINT"] = _endpoint.Url + "/msi/token",
            ["IDENTITY_HEADER"] = header,
        });
        await Token(credential);

        EntraTokenEndpoint.Request request = Assert.Single(_endpoint.Requests);
        Assert.Equal("GET", request.Method);
        Assert.Equal("/msi/token", request.Path);
        Assert.Equal("2019-08-01", request.Query["api-version"]);
        Assert.Equal("https://storage.azure.com", request.Query["resource"]);
        Assert.Null(request.Query["client_id"]);
        Assert.Equal(header, request.Headers["X-IDENTITY-HEADER"]);
    }

    [Fact]
    public async Task RefusedSecret_OneLine_NamesTheSourceAndEndpoint_WithHint_NeverTheSecret()
    {
        _endpoint.Answer = _ => (401, $$"""{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided ({{Secret}}).\r\nTrace ID: 1\r\nTimestamp: now"}""");
        AbsTokenCredential credential = Find(new()
        {
            ["AZURE_TENANT_ID"] = EntraTokenEndpoint.Tenant,
            ["AZURE_CLIENT_ID"] = ClientId,
            ["AZURE_CLIENT_SECRET"] = Secret,
            ["AZURE_AUTHORITY_HOST"] = _endpoint.Url,
        });
        var e = await Assert.ThrowsAsync<AbsTokenException>(async () => await Token(credential));
        Assert.Equal($"get a token for service principal {ClientId} (AZURE_CLIENT_SECRET) from {_endpoint.Url}/{EntraTokenEndpoint.Tenant}/oauth2/v2.0/token: "
            + "HTTP 401: invalid_client: AADSTS7000215: Invalid client secret provided (REDACTED).", e.Message);
        Assert.StartsWith("check AZURE_TENANT_ID, AZURE_CLIENT_ID", e.Hint);
    }

    [Fact]
    public async Task ImdsThatNeverAnswers_FailsWithinItsTimeout()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        AbsTokenCredential credential = Find(new() { ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}" });
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<AbsTokenException>(async () => await Token(credential));
        Assert.InRange(clock.Elapsed, AbsTokenCredential.ImdsTimeout - TimeSpan.FromMilliseconds(100), AbsTokenCredential.ImdsTimeout + TimeSpan.FromSeconds(10));
        Assert.EndsWith("/metadata/identity/oauth2/token: no answer within 3s", e.Message);
        Assert.StartsWith("off Azure, set account-key or sas-token", e.Hint);
    }

    [Theory]
    [InlineData("http://login.example.com")]
    [InlineData("ftp://127.0.0.1")]
    public void SecretOverPlainHttpToAnotherHost_IsRefused(string authority)
    {
        var e = Assert.Throws<ArgumentException>(() => Find(new()
        {
            ["AZURE_TENANT_ID"] = EntraTokenEndpoint.Tenant,
            ["AZURE_CLIENT_ID"] = ClientId,
            ["AZURE_CLIENT_SECRET"] = Secret,
            ["AZURE_AUTHORITY_HOST"] = authority,
        }));
        Assert.Equal($"abs: AZURE_AUTHORITY_HOST must be an https URL (http only to loopback), got \"{authority}\"", e.Message);
    }

    [Theory]
    [InlineData("""{"access_token":"t","expires_in":3600}""", 3600)]
    [InlineData("""{"access_token":"t","expires_in":"3599","expires_on":"4102444800"}""", -1)]
    [InlineData("""{"access_token":"t"}""", 0)]
    [InlineData("""{"access_token":"t","expires_in":"soon"}""", 0)]
    [InlineData("""[1,2]""", 0)]
    [InlineData("""not json""", 0)]
    public void ParseAnswer_ReadsEntraAndManagedIdentityShapes(string body, int expiresIn)
    {
        (string? token, DateTimeOffset? expires, string? error) = AbsTokenCredential.ParseAnswer(System.Text.Encoding.UTF8.GetBytes(body));
        switch (expiresIn)
        {
            case 0:
                Assert.Null(expires);
                break;
            case -1:
                Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(4102444800), expires);
                break;
            default:
                Assert.InRange(expires!.Value, DateTimeOffset.UtcNow.AddSeconds(expiresIn - 60), DateTimeOffset.UtcNow.AddSeconds(expiresIn + 1));
                break;
        }
        Assert.Equal(body.StartsWith("{", StringComparison.Ordinal) ? "t" : null, token);
        Assert.Equal(body.StartsWith("{", StringComparison.Ordinal) ? null : body.StartsWith("[", StringComparison.Ordinal) ? "the answer is not a JSON object" : "the answer is not JSON", error);
    }
}
