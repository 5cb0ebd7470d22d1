using System.Collections.Specialized;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Litestream.Testing;

/// <summary>
/// A loopback stand-in for Microsoft Entra ID's token endpoint, IMDS and App Service's identity endpoint, for the
/// abs token credential: it records every request (method, path, query, headers, form fields) and answers with an
/// unsigned JWT whose issuer, audience and lifetime Azurite's <c>--oauth basic</c> accepts, or with what
/// <see cref="Answer"/> says. Managed identity paths get their string <c>expires_on</c>; the rest Entra ID's
/// numeric <c>expires_in</c>.
/// </summary>
public sealed class EntraTokenEndpoint : IDisposable
{
    /// <summary>The tenant in the issuer of the tokens made here.</summary>
    public const string Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    private readonly HttpListener _listener = new();
    private readonly List<Request> _requests = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;
    private int _issued;

    public EntraTokenEndpoint()
    {
        Port = LocalServer.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>One request as it arrived.</summary>
    public sealed record Request(string Method, string Path, NameValueCollection Query, NameValueCollection Headers, IReadOnlyDictionary<string, string> Form);

    /// <summary>The listening port.</summary>
    public int Port { get; }

    /// <summary>The base URL (for AZURE_AUTHORITY_HOST, AZURE_POD_IDENTITY_AUTHORITY_HOST).</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Lifetime of the tokens made here.</summary>
    public TimeSpan Lifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>When set, answers a request with this status and JSON body instead of a token.</summary>
    public Func<Request, (int Status, string Body)?>? Answer { get; set; }

    /// <summary>The requests so far.</summary>
    public IReadOnlyList<Request> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Tokens handed out so far (each one different).</summary>
    public int Issued => Volatile.Read(ref _issued);

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            HttpListenerRequest http = context.Request;
            string body = await new StreamReader(http.InputStream).ReadToEndAsync();
            Dictionary<string, string> form = body.Length == 0 ? [] : body.Split('&').Select(p => p.Split('=', 2))
                .ToDictionary(p => WebUtility.UrlDecode(p[0]), p => WebUtility.UrlDecode(p.Length > 1 ? p[1] : ""));
            var request = new Request(http.HttpMethod, http.Url!.AbsolutePath, http.QueryString, http.Headers, form);
            lock (_requests)
            {
                _requests.Add(request);
            }
            (int status, string text) = Answer?.Invoke(request) ?? Token(request);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    private (int, string) Token(Request request)
    {
        int n = Interlocked.Increment(ref _issued);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        long expires = (now + Lifetime).ToUnixTimeSeconds();
        string Part(object value) => Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(value)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        string jwt = Part(new Dictionary<string, object> { ["alg"] = "none", ["typ"] = "JWT" }) + "." + Part(new Dictionary<string, object>
        {
            ["aud"] = "https://storage.azure.com",
            ["iss"] = $"https://sts.windows.net/{Tenant}/",
            ["iat"] = now.AddMinutes(-1).ToUnixTimeSeconds(),
            ["nbf"] = now.AddMinutes(-1).ToUnixTimeSeconds(),
            ["exp"] = expires,
            ["oid"] = "token-" + n,
        }) + ".c2lnbmF0dXJl";
        bool managedIdentity = request.Method == "GET";
        string answer = managedIdentity
            ? JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["access_token"] = jwt,
                ["expires_in"] = ((long)Lifetime.TotalSeconds).ToString(),
                ["expires_on"] = expires.ToString(),
                ["resource"] = request.Query["resource"] ?? "",
                ["token_type"] = "Bearer",
            })
            : JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["token_type"] = "Bearer",
                ["expires_in"] = (long)Lifetime.TotalSeconds,
                ["ext_expires_in"] = (long)Lifetime.TotalSeconds,
                ["access_token"] = jwt,
            });
        return (200, answer);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // the listener closed under a pending read
        }
        _stop.Dispose();
    }
}
