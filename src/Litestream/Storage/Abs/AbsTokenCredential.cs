using System.Globalization;
using System.Text.Json;

namespace Litestream.Storage.Abs;

/// <summary>
/// Microsoft Entra ID tokens for Blob Storage when no account key or SAS token is configured: the part of upstream's
/// <c>azidentity.NewDefaultAzureCredential</c> chain that needs no SDK of its own (Azure.Identity and MSAL would add
/// megabytes), in its order, picked once from the environment:
/// <list type="number">
/// <item>a service principal's secret: <c>AZURE_TENANT_ID</c>, <c>AZURE_CLIENT_ID</c>, <c>AZURE_CLIENT_SECRET</c>;</item>
/// <item>workload identity (AKS): <c>AZURE_FEDERATED_TOKEN_FILE</c> with <c>AZURE_TENANT_ID</c>, <c>AZURE_CLIENT_ID</c>,
/// the file read at every request (the kubelet rotates it) and sent as the client assertion;</item>
/// <item>App Service / Functions managed identity: <c>IDENTITY_ENDPOINT</c> and <c>IDENTITY_HEADER</c>;</item>
/// <item>the VM's managed identity at IMDS (<c>AZURE_POD_IDENTITY_AUTHORITY_HOST</c>, default
/// <c>http://169.254.169.254</c>), a user-assigned one when <c>AZURE_CLIENT_ID</c> is set.</item>
/// </list>
/// The first two ask <c>AZURE_AUTHORITY_HOST</c> (default <c>https://login.microsoftonline.com</c>) with the client
/// credentials grant. A token is kept until five minutes before it expires. Every request is bounded (IMDS, absent
/// off Azure, by <see cref="ImdsTimeout"/>); a failure is one line naming the source and the endpoint, never a secret.
/// Not covered (use a key or SAS there): certificates, the Azure CLI's login, Azure Arc.
/// </summary>
internal sealed class AbsTokenCredential
{
    /// <summary>Longest wait for IMDS (connect and answer), which is absent off Azure.</summary>
    public static readonly TimeSpan ImdsTimeout = TimeSpan.FromSeconds(3);
    /// <summary>Longest wait for a token from any other endpoint.</summary>
    public static readonly TimeSpan TokenTimeout = TimeSpan.FromSeconds(30);
    /// <summary>A token is renewed this long before it expires (Azure.Identity's margin).</summary>
    public static readonly TimeSpan RefreshBefore = TimeSpan.FromMinutes(5);
    private const string DefaultAuthority = "https://login.microsoftonline.com";
    private const string DefaultImds = "http://169.254.169.254";

    private enum Source { ServicePrincipal, WorkloadIdentity, AppService, Imds }

    private readonly Source _source;
    private readonly string _endpoint;
    private readonly string? _clientId;
    private readonly string? _secret;
    private readonly string? _tokenFile;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _lock = new(1, 1);
    // One reference, swapped whole: readers outside the lock never see a token with another one's expiry.
    private volatile CachedToken? _cached;

    private AbsTokenCredential(Source source, string description, string endpoint, string? clientId, string? secret, string? tokenFile, TimeSpan connectTimeout)
    {
        _source = source;
        Description = description;
        _endpoint = endpoint;
        _clientId = clientId;
        _secret = secret;
        _tokenFile = tokenFile;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = connectTimeout, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <summary>Where tokens come from, for messages (a client id, an endpoint; never a secret).</summary>
    public string Description { get; }

    /// <summary>Picks the source as described above; reads nothing over the network yet.</summary>
    /// <exception cref="ArgumentException">An authority or identity endpoint that is not an http(s) URL, or plain http to a host that is not loopback.</exception>
    public static AbsTokenCredential Find(Func<string, string?> environment, TimeSpan connectTimeout)
    {
        string? Env(string name) => environment(name) is { Length: > 0 } value ? value : null;
        string? tenant = Env("AZURE_TENANT_ID");
        string? clientId = Env("AZURE_CLIENT_ID");
        string authority = (Env("AZURE_AUTHORITY_HOST") ?? DefaultAuthority).TrimEnd('/');
        if (tenant is not null && clientId is not null && Env("AZURE_CLIENT_SECRET") is { } secret)
        {
            Redaction.Register(secret);
            return new(Source.ServicePrincipal, $"service principal {clientId} (AZURE_CLIENT_SECRET)",
                TokenEndpoint(authority, tenant), clientId, secret, null, connectTimeout);
        }
        if (tenant is not null && clientId is not null && Env("AZURE_FEDERATED_TOKEN_FILE") is { } file)
        {
            return new(Source.WorkloadIdentity, $"workload identity {clientId} (AZURE_FEDERATED_TOKEN_FILE {file})",
                TokenEndpoint(authority, tenant), clientId, null, file, connectTimeout);
        }
        if (Env("IDENTITY_ENDPOINT") is { } identityEndpoint && Env("IDENTITY_HEADER") is { } header)
        {
            Redaction.Register(header);
            return new(Source.AppService, $"the App Service managed identity{(clientId is null ? "" : " " + clientId)} (IDENTITY_ENDPOINT)",
                Checked(identityEndpoint, "IDENTITY_ENDPOINT", secretsSent: false), clientId, header, null, connectTimeout);
        }
        string imds = Checked((Env("AZURE_POD_IDENTITY_AUTHORITY_HOST") ?? DefaultImds).TrimEnd('/'), "AZURE_POD_IDENTITY_AUTHORITY_HOST", secretsSent: false)
            + "/metadata/identity/oauth2/token";
        return new(Source.Imds, $"the managed identity{(clientId is null ? "" : " " + clientId)} at IMDS (no account-key, sas-token or AZURE_CLIENT_SECRET)",
            imds, clientId, null, null, connectTimeout < ImdsTimeout ? connectTimeout : ImdsTimeout);
    }

    /// <summary>An access token for <paramref name="scope"/>: the one kept while it is fresh, else a new one.</summary>
    /// <exception cref="AbsTokenException">No token could be had (one line naming the source, with a hint).</exception>
    public async ValueTask<AccessToken> GetTokenAsync(string scope, CancellationToken cancellationToken)
    {
        if (Cached(scope) is { } cached)
        {
            return cached;
        }
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Cached(scope) is { } other)
            {
                return other;
            }
            AccessToken token = await RequestAsync(scope, cancellationToken).ConfigureAwait(false);
            TimeSpan life = token.ExpiresOn - DateTimeOffset.UtcNow;
            // A short-lived token is renewed at half its life, not after it has expired.
            _cached = new CachedToken(token, scope, token.ExpiresOn - (life < 2 * RefreshBefore ? life / 2 : RefreshBefore));
            return token;
        }
        finally
        {
            _lock.Release();
        }
    }

    private AccessToken? Cached(string scope)
        => _cached is { } cached && cached.Scope == scope && DateTimeOffset.UtcNow < cached.RenewAt ? cached.Token : null;

    private async Task<AccessToken> RequestAsync(string scope, CancellationToken cancellationToken)
    {
        // Managed identity endpoints take the resource, the scope without its "/.default".
        string resource = scope.EndsWith("/.default", StringComparison.Ordinal) ? scope[..^"/.default".Length] : scope;
        string clientQuery = _clientId is null ? "" : "&client_id=" + Uri.EscapeDataString(_clientId);
        using var request = _source switch
        {
            Source.Imds => new HttpRequestMessage(HttpMethod.Get, $"{_endpoint}?api-version=2018-02-01&resource={Uri.EscapeDataString(resource)}{clientQuery}"),
            Source.AppService => new HttpRequestMessage(HttpMethod.Get,
                $"{_endpoint}{(_endpoint.Contains('?', StringComparison.Ordinal) ? '&' : '?')}api-version=2019-08-01&resource={Uri.EscapeDataString(resource)}{clientQuery}"),
            _ => new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new FormUrlEncodedContent(ClientCredentialsForm(scope)) },
        };
        if (_source == Source.Imds)
        {
            request.Headers.Add("Metadata", "true");
        }
        else if (_source == Source.AppService)
        {
            request.Headers.Add("X-IDENTITY-HEADER", _secret);
        }
        TimeSpan limit = _source == Source.Imds ? ImdsTimeout : TokenTimeout;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(limit);
        try
        {
            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            byte[] body = await ReadBoundedAsync(response.Content, timeout.Token).ConfigureAwait(false);
            (string? accessToken, DateTimeOffset? expiresOn, string? error) = ParseAnswer(body);
            if (response.IsSuccessStatusCode && accessToken is not null && expiresOn is { } expires)
            {
                Redaction.Register(accessToken);
                return new AccessToken(accessToken, expires);
            }
            throw Failure($"HTTP {(int)response.StatusCode}: {error ?? "no access_token and expiry in the answer"}");
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw Failure(e is OperationCanceledException ? $"no answer within {GoDuration.Format(limit)}" : OneLine(e));
        }
    }

    private Dictionary<string, string> ClientCredentialsForm(string scope)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = _clientId!,
            ["scope"] = scope,
        };
        if (_source == Source.ServicePrincipal)
        {
            form["client_secret"] = _secret!;
            return form;
        }
        string assertion;
        try
        {
            assertion = System.IO.File.ReadAllText(_tokenFile!).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure($"cannot read AZURE_FEDERATED_TOKEN_FILE {_tokenFile}: {e.Message}");
        }
        Redaction.Register(assertion);
        form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        form["client_assertion"] = assertion;
        return form;
    }

    /// <summary>A token answer is small; anything past 1 MiB is not one.</summary>
    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        const int Limit = 1 << 20;
        using Stream stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > Limit)
            {
                throw new IOException("the answer is larger than 1 MiB");
            }
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Reads an Entra ID answer (<c>expires_in</c> seconds, a number) or a managed identity one (<c>expires_on</c> Unix
    /// seconds, and IMDS's <c>expires_in</c>, both as strings); the error and its description otherwise.
    /// </summary>
    internal static (string? AccessToken, DateTimeOffset? ExpiresOn, string? Error) ParseAnswer(byte[] body)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, null, "the answer is not a JSON object");
            }
            JsonElement root = document.RootElement;
            string? token = root.TryGetProperty("access_token", out JsonElement t) && t.ValueKind == JsonValueKind.String && t.GetString() is { Length: > 0 } s ? s : null;
            DateTimeOffset? expires = Seconds(root, "expires_on") is { } on ? DateTimeOffset.FromUnixTimeSeconds(on)
                : Seconds(root, "expires_in") is { } inSeconds ? DateTimeOffset.UtcNow.AddSeconds(inSeconds) : null;
            string? error = root.TryGetProperty("error", out JsonElement e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
            if (root.TryGetProperty("error_description", out JsonElement d) && d.ValueKind == JsonValueKind.String && d.GetString() is { Length: > 0 } description)
            {
                error = (error is null ? "" : error + ": ") + OneLine(description);
            }
            return (token, expires, error);
        }
        catch (JsonException)
        {
            // The body may echo what was sent: say only that it was not JSON.
            return (null, null, "the answer is not JSON");
        }
    }

    private static long? Seconds(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out JsonElement value))
        {
            return null;
        }
        long seconds = 0;
        bool ok = value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt64(out seconds),
            JsonValueKind.String => long.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out seconds),
            _ => false,
        };
        return ok && seconds is > 0 and < 253402300799 ? seconds : null;
    }

    private AbsTokenException Failure(string detail)
        => new(Redaction.Apply($"get a token for {Description} from {_endpoint}: {detail}"), _source switch
        {
            Source.Imds => "off Azure, set account-key or sas-token (or AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET); on an Azure VM, enable its managed identity",
            Source.AppService => "enable the app's managed identity (IDENTITY_ENDPOINT is set by App Service)",
            _ => "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret or federated token: Entra ID refused them",
        });

    private static string TokenEndpoint(string authority, string tenant)
        => Checked(authority, "AZURE_AUTHORITY_HOST", secretsSent: true) + "/" + Uri.EscapeDataString(tenant) + "/oauth2/v2.0/token";

    /// <summary>
    /// An http(s) URL. Where a secret is sent, plain http only to a loopback host (a secret must not cross a network in
    /// clear); managed identity endpoints are link-local or in-host http by design (IMDS, App Service on Linux).
    /// </summary>
    private static string Checked(string url, string variable, bool secretsSent)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || !(uri.Scheme == "https" || (uri.Scheme == "http" && (uri.IsLoopback || !secretsSent))))
        {
            throw new ArgumentException($"abs: {variable} must be an {(secretsSent ? "https URL (http only to loopback)" : "http(s) URL")}, got \"{ReplicaUrl.Redact(url)}\"");
        }
        return url;
    }

    /// <summary>A bearer token and when it expires.</summary>
    public readonly record struct AccessToken(string Token, DateTimeOffset ExpiresOn);

    /// <summary>A token, the scope it was asked for, and when to ask for the next one.</summary>
    private sealed record CachedToken(AccessToken Token, string Scope, DateTimeOffset RenewAt);

    private static string OneLine(Exception e) => OneLine(e.InnerException is { } inner ? $"{e.Message}: {inner.Message}" : e.Message);

    private static string OneLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).Trim();
    }
}
