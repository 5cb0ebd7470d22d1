using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Litestream.Storage.Gs;

/// <summary>
/// Workload identity federation (<c>"type": "external_account"</c> credentials, as Google's SDKs read them): a
/// subject token from the <c>credential_source</c> (a file, or a URL with its headers; text, or JSON with the token
/// under <c>subject_token_field_name</c>) is exchanged at the STS <c>token_url</c> (RFC 8693) for a Google access
/// token, which, when <c>service_account_impersonation_url</c> is set, buys the service account's own token
/// (IAM Credentials <c>generateAccessToken</c>). AWS and executable sources are refused when the file is read. The
/// STS and impersonation URLs must be https (http only to a loopback address), so no token goes out in the clear.
/// </summary>
internal sealed class GsExternalAccount
{
    /// <summary>What STS issues and what the exchange asks for (RFC 8693).</summary>
    private const string TokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
    private const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
    /// <summary>The scope STS is asked for before impersonation (IAM Credentials needs cloud-platform).</summary>
    private const string CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";
    /// <summary>Longest subject token read from a file or a URL.</summary>
    private const int MaxSubjectToken = 64 * 1024;

    private readonly GsExternalAccountFile _file;

    private GsExternalAccount(GsExternalAccountFile file)
    {
        _file = file;
    }

    /// <summary>The STS endpoint.</summary>
    public string TokenUrl => _file.TokenUrl!;

    /// <summary>The impersonation endpoint, or null when the STS token is used itself.</summary>
    public string? ImpersonationUrl => _file.ServiceAccountImpersonationUrl is { Length: > 0 } url ? url : null;

    /// <summary>Where the subject token comes from, for messages.</summary>
    public string SubjectSource => _file.CredentialSource!.File is { Length: > 0 } file ? file : _file.CredentialSource.Url!;

    /// <summary>For messages: the impersonated account (from its URL) or the audience; no secret.</summary>
    public string Description => ImpersonationUrl is { } url && url.LastIndexOf("/serviceAccounts/", StringComparison.Ordinal) is int at and >= 0
        ? $"workload identity federation as {url[(at + "/serviceAccounts/".Length)..].Split(':')[0]}"
        : $"workload identity federation ({_file.Audience})";

    /// <summary>Checks an external_account file: its source, its URLs.</summary>
    /// <exception cref="ArgumentException">What is missing or not supported, naming the file (never a value that could be secret).</exception>
    public static GsExternalAccount Parse(byte[] json, string where)
    {
        GsExternalAccountFile file;
        try
        {
            file = JsonSerializer.Deserialize(json, GsExternalAccountJsonContext.Default.GsExternalAccountFile) ?? throw new JsonException();
        }
        catch (JsonException)
        {
            throw new ArgumentException($"gs: {where}: not valid external_account JSON");
        }
        if (string.IsNullOrEmpty(file.Audience) || string.IsNullOrEmpty(file.SubjectTokenType) || string.IsNullOrEmpty(file.TokenUrl) || file.CredentialSource is null)
        {
            throw new ArgumentException($"gs: {where}: external_account credentials need audience, subject_token_type, token_url and credential_source");
        }
        GsCredentialSource source = file.CredentialSource;
        if (source.EnvironmentId is { Length: > 0 } environment)
        {
            throw new ArgumentException($"gs: {where}: credential_source environment_id \"{environment}\" (AWS) is not supported; use a file- or URL-sourced credential");
        }
        if (source.Executable is not null)
        {
            throw new ArgumentException($"gs: {where}: credential_source executable is not supported; use a file- or URL-sourced credential");
        }
        if (string.IsNullOrEmpty(source.File) == string.IsNullOrEmpty(source.Url))
        {
            throw new ArgumentException($"gs: {where}: credential_source needs exactly one of file or url");
        }
        if (source.Url is { Length: > 0 } url && !IsHttpUrl(url, requireTls: false))
        {
            throw new ArgumentException($"gs: {where}: credential_source url is not an http(s) URL");
        }
        if (source.Format is { } format && format.Type is not (null or "text" or "json"))
        {
            throw new ArgumentException($"gs: {where}: credential_source format type \"{format.Type}\" is not text or json");
        }
        if (source.Format is { Type: "json" } && string.IsNullOrEmpty(source.Format.SubjectTokenFieldName))
        {
            throw new ArgumentException($"gs: {where}: credential_source format json needs subject_token_field_name");
        }
        if (!IsHttpUrl(file.TokenUrl, requireTls: true))
        {
            throw new ArgumentException($"gs: {where}: token_url must be an https URL (http only to a loopback address)");
        }
        if (file.ServiceAccountImpersonationUrl is { Length: > 0 } impersonation && !IsHttpUrl(impersonation, requireTls: true))
        {
            throw new ArgumentException($"gs: {where}: service_account_impersonation_url must be an https URL (http only to a loopback address)");
        }
        Litestream.Storage.Redaction.Register(file.ClientSecret);
        return new GsExternalAccount(file);
    }

    /// <summary>Reads the subject token from the file or the URL (bounded), and takes it out of JSON when so formatted.</summary>
    /// <exception cref="IOException">It cannot be read, or is empty, or its JSON has no such field.</exception>
    public async Task<string> SubjectTokenAsync(HttpClient http, CancellationToken cancellationToken)
    {
        GsCredentialSource source = _file.CredentialSource!;
        byte[] bytes;
        if (source.File is { Length: > 0 } path)
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 4096, useAsync: true);
            bytes = new byte[MaxSubjectToken + 1];
            int n = await stream.ReadAtLeastAsync(bytes, bytes.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            Array.Resize(ref bytes, n);
        }
        else
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, source.Url);
            foreach ((string name, string value) in source.Headers ?? [])
            {
                request.Headers.TryAddWithoutValidation(name, value);
            }
            using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new IOException($"HTTP {(int)response.StatusCode}");
            }
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                bytes = new byte[MaxSubjectToken + 1];
                int n = await body.ReadAtLeastAsync(bytes, bytes.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                Array.Resize(ref bytes, n);
            }
        }
        if (bytes.Length > MaxSubjectToken)
        {
            throw new IOException($"larger than {MaxSubjectToken / 1024} KiB, not a subject token");
        }
        string? token = Encoding.UTF8.GetString(bytes).Trim();
        if (source.Format is { Type: "json", SubjectTokenFieldName: { } field })
        {
            try
            {
                using JsonDocument document = JsonDocument.Parse(bytes);
                token = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(field, out JsonElement value)
                    && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            }
            catch (JsonException)
            {
                throw new IOException("not valid JSON (credential_source format json)");
            }
            if (token is null)
            {
                throw new IOException($"no string field \"{field}\" in it");
            }
        }
        if (string.IsNullOrEmpty(token))
        {
            throw new IOException("it is empty");
        }
        Litestream.Storage.Redaction.Register(token);
        return token;
    }

    /// <summary>The STS token exchange (form-encoded; client_id/client_secret as HTTP Basic when the file has them).</summary>
    public HttpRequestMessage StsRequest(string subjectToken, string scope)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["grant_type"] = TokenExchangeGrant,
            ["audience"] = _file.Audience!,
            ["scope"] = ImpersonationUrl is null ? scope : CloudPlatformScope,
            ["requested_token_type"] = AccessTokenType,
            ["subject_token"] = subjectToken,
            ["subject_token_type"] = _file.SubjectTokenType!,
        };
        if (_file.WorkforcePoolUserProject is { Length: > 0 } project && _file.ClientId is not { Length: > 0 })
        {
            form["options"] = JsonSerializer.Serialize(new GsStsOptions { UserProject = project }, GsExternalAccountJsonContext.Default.GsStsOptions);
        }
        var request = new HttpRequestMessage(HttpMethod.Post, TokenUrl) { Content = new FormUrlEncodedContent(form) };
        if (_file.ClientId is { Length: > 0 } id && _file.ClientSecret is { Length: > 0 } secret)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(id)}:{Uri.EscapeDataString(secret)}")));
        }
        return request;
    }

    /// <summary>generateAccessToken for the service account, authorized by the STS token.</summary>
    public HttpRequestMessage ImpersonationRequest(string stsToken, string scope)
    {
        int lifetime = _file.ServiceAccountImpersonation?.TokenLifetimeSeconds is int seconds and > 0 ? seconds : 3600;
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new GsImpersonationRequest { Scope = [scope], Lifetime = lifetime.ToString(CultureInfo.InvariantCulture) + "s" },
            GsExternalAccountJsonContext.Default.GsImpersonationRequest);
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, ImpersonationUrl) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", stsToken);
        return request;
    }

    /// <summary>The impersonated token and its seconds to live, from generateAccessToken's answer (null when it has none).</summary>
    public static GsToken? ParseImpersonation(byte[] body)
    {
        GsImpersonationAnswer? answer;
        try
        {
            answer = JsonSerializer.Deserialize(body, GsExternalAccountJsonContext.Default.GsImpersonationAnswer);
        }
        catch (JsonException)
        {
            return null;
        }
        if (answer is not { AccessToken.Length: > 0 })
        {
            return new GsToken { Error = answer?.Error?.Message };
        }
        long seconds = DateTimeOffset.TryParse(answer.ExpireTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset expires)
            ? (long)(expires - DateTimeOffset.UtcNow).TotalSeconds : 3600;
        return new GsToken { AccessToken = answer.AccessToken, ExpiresIn = seconds };
    }

    private static bool IsHttpUrl(string url, bool requireTls)
        => Uri.TryCreate(url, UriKind.Absolute, out Uri? uri)
            && (uri.Scheme == "https" || (uri.Scheme == "http" && (!requireTls || uri.IsLoopback)));
}

/// <summary>The external_account fields of an Application Default Credentials file.</summary>
internal sealed class GsExternalAccountFile
{
    [JsonPropertyName("audience")] public string? Audience { get; set; }
    [JsonPropertyName("subject_token_type")] public string? SubjectTokenType { get; set; }
    [JsonPropertyName("token_url")] public string? TokenUrl { get; set; }
    [JsonPropertyName("service_account_impersonation_url")] public string? ServiceAccountImpersonationUrl { get; set; }
    [JsonPropertyName("service_account_impersonation")] public GsImpersonationOptions? ServiceAccountImpersonation { get; set; }
    [JsonPropertyName("credential_source")] public GsCredentialSource? CredentialSource { get; set; }
    [JsonPropertyName("workforce_pool_user_project")] public string? WorkforcePoolUserProject { get; set; }
    [JsonPropertyName("client_id")] public string? ClientId { get; set; }
    [JsonPropertyName("client_secret")] public string? ClientSecret { get; set; }
}

internal sealed class GsImpersonationOptions
{
    [JsonPropertyName("token_lifetime_seconds")] public int? TokenLifetimeSeconds { get; set; }
}

internal sealed class GsCredentialSource
{
    [JsonPropertyName("file")] public string? File { get; set; }
    [JsonPropertyName("url")] public string? Url { get; set; }
    [JsonPropertyName("headers")] public Dictionary<string, string>? Headers { get; set; }
    [JsonPropertyName("format")] public GsCredentialFormat? Format { get; set; }
    [JsonPropertyName("environment_id")] public string? EnvironmentId { get; set; }
    [JsonPropertyName("executable")] public JsonElement? Executable { get; set; }
}

internal sealed class GsCredentialFormat
{
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("subject_token_field_name")] public string? SubjectTokenFieldName { get; set; }
}

internal sealed class GsStsOptions
{
    [JsonPropertyName("userProject")] public string? UserProject { get; set; }
}

internal sealed class GsImpersonationRequest
{
    [JsonPropertyName("scope")] public string[]? Scope { get; set; }
    [JsonPropertyName("lifetime")] public string? Lifetime { get; set; }
}

internal sealed class GsImpersonationAnswer
{
    [JsonPropertyName("accessToken")] public string? AccessToken { get; set; }
    [JsonPropertyName("expireTime")] public string? ExpireTime { get; set; }
    [JsonPropertyName("error")] public GsError? Error { get; set; }
}

/// <summary>Source-generated JSON for the types above (no reflection in the trimmed exe).</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GsExternalAccountFile))]
[JsonSerializable(typeof(GsStsOptions))]
[JsonSerializable(typeof(GsImpersonationRequest))]
[JsonSerializable(typeof(GsImpersonationAnswer))]
internal sealed partial class GsExternalAccountJsonContext : JsonSerializerContext;
