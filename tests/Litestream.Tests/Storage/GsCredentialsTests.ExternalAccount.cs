using System.Text.Json;
using Litestream.Storage;
using Litestream.Storage.Gs;

namespace Litestream.Tests.Storage;

/// <summary>
/// Workload identity federation (external_account credentials): the subject token from a file or a URL, the STS
/// token exchange and the service account impersonation, each checked field by field by the loopback endpoint.
/// </summary>
public sealed partial class GsCredentialsTests
{
    private const string Audience = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/ci-pool/providers/ci-oidc";
    private const string JwtType = "urn:ietf:params:oauth:token-type:jwt";
    private const string Impersonated = "replicator@example-project.iam.gserviceaccount.com";
    // Random per run: the subject token must never appear in an error.
    private static readonly string s_subjectToken = "eyJhbGciOiJSUzI1NiJ9.oidc-subject-" + Guid.NewGuid().ToString("N");

    private string StsUrl => $"http://127.0.0.1:{_port}/v1/token";

    private string ImpersonationUrl => $"http://127.0.0.1:{_port}/v1/projects/-/serviceAccounts/{Impersonated}:generateAccessToken";

    private string WriteExternalAccount(object credentialSource, bool impersonate)
    {
        string path = Path.Combine(_dir, "federation.json");
        var file = new Dictionary<string, object>
        {
            ["type"] = "external_account",
            ["audience"] = Audience,
            ["subject_token_type"] = JwtType,
            ["token_url"] = StsUrl,
            ["credential_source"] = credentialSource,
        };
        if (impersonate)
        {
            file["service_account_impersonation_url"] = ImpersonationUrl;
            file["service_account_impersonation"] = new Dictionary<string, int> { ["token_lifetime_seconds"] = 1800 };
        }
        File.WriteAllText(path, JsonSerializer.Serialize(file));
        return path;
    }

    private static Dictionary<string, string> Form(string body)
        => body.Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => Uri.UnescapeDataString(p[1].Replace('+', ' ')));

    /// <summary>Google's STS: the exchange's fields exactly, else invalid_request.</summary>
    private static (int, string) Sts(string body, string scope)
    {
        Dictionary<string, string> form = Form(body);
        bool right = form.Count == 6 && form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange" && form["audience"] == Audience
            && form["scope"] == scope && form["requested_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
            && form["subject_token"] == s_subjectToken && form["subject_token_type"] == JwtType;
        return right ? (200, """{"access_token":"ya29.sts-federated","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}""")
            : (400, """{"error":"invalid_request","error_description":"fields differ"}""");
    }

    [Fact]
    public async Task ExternalAccount_FileSource_StsThenImpersonation_EachRequestExact()
    {
        string subject = Path.Combine(_dir, "oidc.json");
        File.WriteAllText(subject, JsonSerializer.Serialize(new Dictionary<string, string> { ["id_token"] = s_subjectToken, ["other"] = "x" }));
        string path = WriteExternalAccount(new Dictionary<string, object>
        {
            ["file"] = subject,
            ["format"] = new Dictionary<string, string> { ["type"] = "json", ["subject_token_field_name"] = "id_token" },
        }, impersonate: true);
        GsCredentials credentials = GsCredentials.FromFile(path, "GOOGLE_APPLICATION_CREDENTIALS");
        Assert.Equal($"workload identity federation as {Impersonated} (GOOGLE_APPLICATION_CREDENTIALS {path})", credentials.Description);
        string expires = DateTimeOffset.UtcNow.AddMinutes(30).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);
        Task server = ServeAsync(2, (request, body) => request.Url!.AbsolutePath switch
        {
            "/v1/token" => Sts(body, "https://www.googleapis.com/auth/cloud-platform"),
            _ when request.Url.AbsolutePath == $"/v1/projects/-/serviceAccounts/{Impersonated}:generateAccessToken"
                && request.Headers["Authorization"] == "Bearer ya29.sts-federated"
                && request.ContentType == "application/json"
                && body == """{"scope":["https://www.googleapis.com/auth/devstorage.read_write"],"lifetime":"1800s"}"""
                => (200, $$"""{"accessToken":"ya29.impersonated-sa","expireTime":"{{expires}}"}"""),
            _ => (403, """{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied","status":"PERMISSION_DENIED"}}"""),
        });
        using var http = new HttpClient();

        Assert.Equal("Bearer ya29.impersonated-sa", (await credentials.GetAuthorizationAsync(http, default))!.ToString());
        Assert.Equal("Bearer ya29.impersonated-sa", (await credentials.GetAuthorizationAsync(http, default))!.ToString());

        await server;
        Assert.Equal(["POST /v1/token", $"POST /v1/projects/-/serviceAccounts/{Impersonated}:generateAccessToken"], _requests);
    }

    [Fact]
    public async Task ExternalAccount_UrlSource_WithHeaders_StsTokenUsedItself()
    {
        string path = WriteExternalAccount(new Dictionary<string, object>
        {
            ["url"] = $"http://127.0.0.1:{_port}/metadata/identity/oauth2/token",
            ["headers"] = new Dictionary<string, string> { ["Metadata"] = "True" },
        }, impersonate: false);
        GsCredentials credentials = GsCredentials.FromFile(path, "GOOGLE_APPLICATION_CREDENTIALS");
        Assert.Equal($"workload identity federation ({Audience}) (GOOGLE_APPLICATION_CREDENTIALS {path})", credentials.Description);
        Task server = ServeAsync(2, (request, body) => request.Url!.AbsolutePath switch
        {
            "/metadata/identity/oauth2/token" when request.HttpMethod == "GET" && request.Headers["Metadata"] == "True" => (200, s_subjectToken + "\n"),
            "/v1/token" => Sts(body, GsCredentials.Scope),
            _ => (400, "{}"),
        });
        using var http = new HttpClient();

        Assert.Equal("Bearer ya29.sts-federated", (await credentials.GetAuthorizationAsync(http, default))!.ToString());

        await server;
        Assert.Equal(["GET /metadata/identity/oauth2/token", "POST /v1/token"], _requests);
    }

    [Fact]
    public async Task ExternalAccount_StsRefuses_OneLineWithItsReason_NeverTheSubjectToken()
    {
        string subject = Path.Combine(_dir, "oidc.jwt");
        File.WriteAllText(subject, s_subjectToken);
        GsCredentials credentials = GsCredentials.FromFile(WriteExternalAccount(new Dictionary<string, object> { ["file"] = subject }, impersonate: true), "GOOGLE_APPLICATION_CREDENTIALS");
        Task server = ServeAsync(1, (_, _) => (400, """{"error":"invalid_grant","error_description":"The audience in ID Token does not match the expected audience."}"""));
        using var http = new HttpClient();

        var error = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await credentials.GetAuthorizationAsync(http, default));

        await server;
        Assert.Equal($"gs: get an access token from {StsUrl} for workload identity federation as {Impersonated} (GOOGLE_APPLICATION_CREDENTIALS {_dir}/federation.json): HTTP 400: invalid_grant: The audience in ID Token does not match the expected audience.", error.Message);
        Assert.StartsWith("check the workload identity pool's provider", error.Hint);
        Assert.DoesNotContain(s_subjectToken, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExternalAccount_SubjectFileMissing_SaysWhichFile()
    {
        string subject = Path.Combine(_dir, "absent.jwt");
        GsCredentials credentials = GsCredentials.FromFile(WriteExternalAccount(new Dictionary<string, object> { ["file"] = subject }, impersonate: false), "GOOGLE_APPLICATION_CREDENTIALS");
        using var http = new HttpClient();
        var error = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await credentials.GetAuthorizationAsync(http, default));
        Assert.StartsWith($"gs: get an access token from {subject} for workload identity federation ({Audience}) (GOOGLE_APPLICATION_CREDENTIALS {_dir}/federation.json): cannot read the subject token: ", error.Message);
    }

    [Theory]
    [InlineData("""{"environment_id":"aws1","region_url":"http://169.254.169.254/latest/meta-data/placement/availability-zone"}""", "credential_source environment_id \"aws1\" (AWS) is not supported; use a file- or URL-sourced credential")]
    [InlineData("""{"executable":{"command":"/usr/bin/get-token","timeout_millis":5000}}""", "credential_source executable is not supported; use a file- or URL-sourced credential")]
    [InlineData("""{}""", "credential_source needs exactly one of file or url")]
    [InlineData("""{"file":"/x","format":{"type":"json"}}""", "credential_source format json needs subject_token_field_name")]
    public void ExternalAccount_UnsupportedSource_RefusedWhenRead(string source, string reason)
    {
        string path = Path.Combine(_dir, "federation.json");
        File.WriteAllText(path, $$"""{"type":"external_account","audience":"{{Audience}}","subject_token_type":"{{JwtType}}","token_url":"https://sts.googleapis.com/v1/token","credential_source":""" + source + "}");
        Assert.Equal($"gs: GOOGLE_APPLICATION_CREDENTIALS {path}: {reason}", Assert.Throws<ArgumentException>(() => GsCredentials.FromFile(path, "GOOGLE_APPLICATION_CREDENTIALS")).Message);
    }

    [Fact]
    public void ExternalAccount_TokenUrlInTheClear_Refused()
    {
        string path = Path.Combine(_dir, "federation.json");
        File.WriteAllText(path, $$"""{"type":"external_account","audience":"{{Audience}}","subject_token_type":"{{JwtType}}","token_url":"http://sts.example.com/v1/token","credential_source":""" + """{"file":"/x"}}""");
        Assert.Equal($"gs: GOOGLE_APPLICATION_CREDENTIALS {path}: token_url must be an https URL (http only to a loopback address)",
            Assert.Throws<ArgumentException>(() => GsCredentials.FromFile(path, "GOOGLE_APPLICATION_CREDENTIALS")).Message);
        File.WriteAllText(path, """{"type":"external_account","audience":"x"}""");
        Assert.Equal($"gs: GOOGLE_APPLICATION_CREDENTIALS {path}: external_account credentials need audience, subject_token_type, token_url and credential_source",
            Assert.Throws<ArgumentException>(() => GsCredentials.FromFile(path, "GOOGLE_APPLICATION_CREDENTIALS")).Message);
    }
}
