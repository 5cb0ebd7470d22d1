using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Litestream.Internal;

namespace Litestream.Storage.Gs;

/// <summary>
/// Application Default Credentials, as Google's SDKs (and so upstream) find them: the JSON file
/// <c>GOOGLE_APPLICATION_CREDENTIALS</c> names (a service account key: a JWT signed RS256 with its private key,
/// exchanged at its <c>token_uri</c>; or a gcloud user's refresh token), else gcloud's
/// <c>~/.config/gcloud/application_default_credentials.json</c>, else the metadata server of the Google Cloud
/// machine this runs on (<c>GCE_METADATA_HOST</c>, default 169.254.169.254). The file may also be
/// <c>external_account</c> credentials (workload identity federation, <see cref="GsExternalAccount"/>). A token is kept until a minute
/// before it expires. With <c>STORAGE_EMULATOR_HOST</c> set no credentials are used, as the SDKs do. No key,
/// secret or token ever reaches a message (each is registered with <see cref="Redaction"/>).
/// </summary>
internal sealed class GsCredentials
{
    /// <summary>The scope asked for: read and write objects.</summary>
    public const string Scope = "https://www.googleapis.com/auth/devstorage.read_write";
    /// <summary>Longest wait for the metadata server, which is absent off Google Cloud.</summary>
    public static readonly TimeSpan MetadataTimeout = TimeSpan.FromSeconds(5);
    /// <summary>Longest the three steps of workload identity federation may take together.</summary>
    public static readonly TimeSpan ExternalAccountTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_refreshBefore = TimeSpan.FromMinutes(1);

    private readonly GsCredentialsFile? _file;
    private readonly RSA? _key;
    private readonly string? _metadataHost;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private GsExternalAccount? _external;
    private string? _token;
    private DateTimeOffset _expires;

    private GsCredentials(string description, GsCredentialsFile? file, RSA? key, string? metadataHost)
    {
        Description = description;
        _file = file;
        _key = key;
        _metadataHost = metadataHost;
    }

    /// <summary>No credentials: the emulator.</summary>
    public static GsCredentials None { get; } = new("no credentials (STORAGE_EMULATOR_HOST)", null, null, null);

    /// <summary>Where the credentials come from, for messages (an account's e-mail, a file's path; never a secret).</summary>
    public string Description { get; }

    /// <summary>True when requests carry no token.</summary>
    public bool IsNone => ReferenceEquals(this, None);

    /// <summary>Finds the credentials as described above; reads the file now, asks for tokens later.</summary>
    /// <exception cref="ArgumentException">The file is missing, unreadable or not a credentials file this build knows.</exception>
    public static GsCredentials Find(Func<string, string?> environment)
    {
        string? path = environment("GOOGLE_APPLICATION_CREDENTIALS");
        if (!string.IsNullOrEmpty(path))
        {
            return FromFile(path, "GOOGLE_APPLICATION_CREDENTIALS");
        }
        string home = environment("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string gcloud = Path.Combine(environment("CLOUDSDK_CONFIG") is { Length: > 0 } config ? config : Path.Combine(home, ".config", "gcloud"),
            "application_default_credentials.json");
        if (System.IO.File.Exists(gcloud))
        {
            return FromFile(gcloud, "gcloud's application default credentials");
        }
        string host = environment("GCE_METADATA_HOST") is { Length: > 0 } configured ? configured : "169.254.169.254";
        return new GsCredentials($"the metadata server at {host} (no GOOGLE_APPLICATION_CREDENTIALS)", null, null, host);
    }

    /// <summary>Reads a service account key or an authorized-user file.</summary>
    public static GsCredentials FromFile(string path, string source)
    {
        GsCredentialsFile? file;
        byte[] bytes;
        try
        {
            bytes = System.IO.File.ReadAllBytes(path);
            if (bytes.Length > 64 * 1024)
            {
                throw new ArgumentException($"gs: {source} {path}: larger than 64 KiB, not a credentials file");
            }
            file = JsonSerializer.Deserialize(bytes, GsJsonContext.Default.GsCredentialsFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"gs: {source} {path}: cannot read it: {e.Message}");
        }
        catch (JsonException)
        {
            // The parser's message may quote the file: say only where.
            throw new ArgumentException($"gs: {source} {path}: not valid JSON");
        }
        switch (file?.Type)
        {
            case "external_account":
                GsExternalAccount account = GsExternalAccount.Parse(bytes, $"{source} {path}");
                return new GsCredentials($"{account.Description} ({source} {path})", null, null, null) { _external = account };
            case "service_account" when file is { ClientEmail.Length: > 0, PrivateKey.Length: > 0 }:
                Redaction.Register(file.PrivateKey);
                var key = RSA.Create();
                try
                {
                    key.ImportFromPem(file.PrivateKey);
                }
                catch (Exception e) when (e is ArgumentException or CryptographicException)
                {
                    key.Dispose();
                    throw new ArgumentException($"gs: {source} {path}: private_key is not a PEM RSA private key");
                }
                file.TokenUri ??= "https://oauth2.googleapis.com/token";
                return new GsCredentials($"service account {file.ClientEmail} ({source} {path})", file, key, null);
            case "authorized_user" when file is { ClientId.Length: > 0, ClientSecret.Length: > 0, RefreshToken.Length: > 0 }:
                Redaction.Register(file.ClientSecret);
                Redaction.Register(file.RefreshToken);
                file.TokenUri ??= "https://oauth2.googleapis.com/token";
                return new GsCredentials($"user credentials ({source} {path})", file, null, null);
            default:
                throw new ArgumentException($"gs: {source} {path}: not a service account key (\"type\": \"service_account\" with client_email and private_key), authorized_user or external_account credentials");
        }
    }

    /// <summary>Forgets the token (the server refused it), so the next request gets a new one.</summary>
    public void Invalidate()
    {
        _token = null;
    }

    /// <summary>The <c>Authorization</c> header for a request; null without credentials.</summary>
    /// <exception cref="ReplicaStorageException">No token could be had.</exception>
    public async ValueTask<AuthenticationHeaderValue?> GetAuthorizationAsync(HttpClient http, CancellationToken cancellationToken)
    {
        if (IsNone)
        {
            return null;
        }
        string? token = _token;
        if (token is null || DateTimeOffset.UtcNow >= _expires)
        {
            await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_token is null || DateTimeOffset.UtcNow >= _expires)
                {
                    GsToken answer = await RequestTokenAsync(http, cancellationToken).ConfigureAwait(false);
                    Redaction.Register(answer.AccessToken);
                    _expires = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(Math.Max(answer.ExpiresIn, 60)) - s_refreshBefore;
                    _token = answer.AccessToken;
                }
                token = _token!;
            }
            finally
            {
                _lock.Release();
            }
        }
        return new AuthenticationHeaderValue("Bearer", token);
    }

    private async Task<GsToken> RequestTokenAsync(HttpClient http, CancellationToken cancellationToken)
    {
        if (_external is not null)
        {
            return await ExternalAccountTokenAsync(_external, http, cancellationToken).ConfigureAwait(false);
        }
        string where;
        HttpRequestMessage request;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (_metadataHost is not null)
        {
            where = $"http://{_metadataHost}/computeMetadata/v1/instance/service-accounts/default/token";
            request = new HttpRequestMessage(HttpMethod.Get, where);
            request.Headers.Add("Metadata-Flavor", "Google");
            timeout.CancelAfter(MetadataTimeout);
        }
        else
        {
            where = _file!.TokenUri!;
            var form = new Dictionary<string, string>(StringComparer.Ordinal);
            if (_key is not null)
            {
                form["grant_type"] = "urn:ietf:params:oauth:grant-type:jwt-bearer";
                form["assertion"] = SignedAssertion();
            }
            else
            {
                form["grant_type"] = "refresh_token";
                form["client_id"] = _file.ClientId!;
                form["client_secret"] = _file.ClientSecret!;
                form["refresh_token"] = _file.RefreshToken!;
            }
            request = new HttpRequestMessage(HttpMethod.Post, where) { Content = new FormUrlEncodedContent(form) };
        }
        using (request)
        {
            return await SendTokenRequestAsync(http, request, where, static body => JsonSerializer.Deserialize(body, GsJsonContext.Default.GsToken), MetadataTimeout, timeout.Token, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Workload identity federation: the subject token, STS, then (when configured) impersonation.</summary>
    private async Task<GsToken> ExternalAccountTokenAsync(GsExternalAccount account, HttpClient http, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ExternalAccountTimeout);
        string subject;
        try
        {
            subject = await account.SubjectTokenAsync(http, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or StallException or IOException or UnauthorizedAccessException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw TokenFailure(account.SubjectSource, "cannot read the subject token: " + (e is OperationCanceledException ? "no answer in time" : FirstLine(e.Message)), null);
        }
        GsToken sts;
        using (HttpRequestMessage request = account.StsRequest(subject, Scope))
        {
            sts = await SendTokenRequestAsync(http, request, account.TokenUrl, static body => JsonSerializer.Deserialize(body, GsJsonContext.Default.GsToken), ExternalAccountTimeout, timeout.Token, cancellationToken).ConfigureAwait(false);
        }
        if (account.ImpersonationUrl is not { } impersonation)
        {
            return sts;
        }
        Redaction.Register(sts.AccessToken);
        using (HttpRequestMessage request = account.ImpersonationRequest(sts.AccessToken!, Scope))
        {
            return await SendTokenRequestAsync(http, request, impersonation, GsExternalAccount.ParseImpersonation, ExternalAccountTimeout, timeout.Token, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends one token request and returns the token the answer holds, or the failure naming <paramref name="where"/>.</summary>
    private async Task<GsToken> SendTokenRequestAsync(HttpClient http, HttpRequestMessage request, string where, Func<byte[], GsToken?> parse,
        TimeSpan limit, CancellationToken timeout, CancellationToken cancellationToken)
    {
        try
        {
            using HttpResponseMessage response = await http.SendAsync(request, timeout).ConfigureAwait(false);
            byte[] body = await response.Content.ReadAsByteArrayAsync(timeout).ConfigureAwait(false);
            GsToken? token = null;
            try
            {
                token = parse(body);
            }
            catch (JsonException)
            {
                // reported below as no token
            }
            if (response.IsSuccessStatusCode && token is { AccessToken.Length: > 0 })
            {
                return token;
            }
            string reason = token?.Error is { Length: > 0 } error ? $"{error}{(token.ErrorDescription is { Length: > 0 } d ? ": " + d : "")}" : "no access token in the answer";
            throw TokenFailure(where, $"HTTP {(int)response.StatusCode}: {reason}", null);
        }
        catch (Exception e) when (e is HttpRequestException or StallException || (e is IOException && e is not ReplicaStorageException)
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw TokenFailure(where, e is OperationCanceledException ? $"no answer within {GoDuration.Format(limit)}" : FirstLine(e.Message), e);
        }
    }

    private ReplicaStorageException TokenFailure(string where, string detail, Exception? cause)
    {
        string hint = _metadataHost is not null
            ? "set GOOGLE_APPLICATION_CREDENTIALS to a service account's JSON key file, or run on Google Cloud with a service account attached"
            : _external is not null
            ? "check the workload identity pool's provider (audience, attribute conditions) and that the federated identity may impersonate the service account (roles/iam.workloadIdentityUser)"
            : "check the credentials file: the key may be revoked or the account deleted (make a new key in the Cloud console)";
        return new ReplicaStorageException(Redaction.Apply($"gs: get an access token from {where} for {Description}: {detail}"), hint, cause is null ? null : new IOException(Redaction.Apply(FirstLine(cause.Message))));
    }

    /// <summary>The JWT a service account signs to ask for a token (RFC 7523): RS256 over header.claims.</summary>
    private string SignedAssertion()
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string header = Base64Url(Json(writer =>
        {
            writer.WriteString("alg", "RS256");
            writer.WriteString("typ", "JWT");
            if (_file!.PrivateKeyId is { Length: > 0 } kid)
            {
                writer.WriteString("kid", kid);
            }
        }));
        string claims = Base64Url(Json(writer =>
        {
            writer.WriteString("iss", _file!.ClientEmail);
            writer.WriteString("scope", Scope);
            writer.WriteString("aud", _file.TokenUri);
            writer.WriteNumber("iat", now);
            writer.WriteNumber("exp", now + 3600);
        }));
        string signingInput = header + "." + claims;
        byte[] signature = _key!.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return signingInput + "." + Base64Url(signature);
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).Trim();
    }
}
