using System.Security.Cryptography;
using System.Text;

namespace Litestream.Storage.Abs;

/// <summary>
/// Azure Storage's Shared Key authorization (the "Authorize with Shared Key" page of the Storage REST docs, version
/// 2009-09-19 and later): HMAC-SHA256 with the account key of the verb, the standard headers in their fixed order
/// (Content-Length empty when 0), the <c>x-ms-</c> headers sorted by lower-case name, and the resource as
/// <c>/account/path</c> plus each query parameter, decoded, sorted by lower-case name. <c>x-ms-date</c> stands in for
/// Date. The key never leaves this object; the signature covers exactly the headers the request carries.
/// </summary>
internal sealed class AbsSharedKey
{
    private static readonly string[] s_standardHeaders =
        ["Content-Encoding", "Content-Language", "Content-Length", "Content-MD5", "Content-Type", "Date",
         "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range"];

    private readonly string _account;
    private readonly byte[] _key;

    /// <exception cref="ArgumentException">The key is not base64.</exception>
    public AbsSharedKey(string account, string key)
    {
        _account = account;
        try
        {
            _key = Convert.FromBase64String(key);
        }
        catch (FormatException)
        {
            throw new ArgumentException("abs account-key is not valid base64");
        }
    }

    /// <summary>Sets the Authorization header of <paramref name="request"/> (its x-ms-date already set).</summary>
    public void Sign(HttpRequestMessage request)
        => request.Headers.TryAddWithoutValidation("Authorization", $"SharedKey {_account}:{Signature(StringToSign(request))}");

    /// <summary>The base64 HMAC-SHA256 of <paramref name="stringToSign"/> with the account key.</summary>
    internal string Signature(string stringToSign) => Convert.ToBase64String(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(stringToSign)));

    /// <summary>What is signed for <paramref name="request"/>.</summary>
    internal string StringToSign(HttpRequestMessage request)
    {
        var text = new StringBuilder(256).Append(request.Method.Method).Append('\n');
        foreach (string name in s_standardHeaders)
        {
            // Content-Length is computed by the content (its header is filled lazily); empty when 0 (version 2015-02-21 on).
            string value = name == "Content-Length"
                ? request.Content?.Headers.ContentLength is > 0 and long length ? length.ToString(System.Globalization.CultureInfo.InvariantCulture) : ""
                : Header(request, name);
            text.Append(value).Append('\n');
        }
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (KeyValuePair<string, IEnumerable<string>> header in request.Headers)
        {
            if (header.Key.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
            {
                headers[header.Key.ToLowerInvariant()] = string.Join(',', header.Value.Select(v => v.Trim()));
            }
        }
        foreach (KeyValuePair<string, string> header in headers)
        {
            text.Append(header.Key).Append(':').Append(header.Value).Append('\n');
        }
        Uri uri = request.RequestUri ?? throw new InvalidOperationException("a request without a URI");
        text.Append('/').Append(_account).Append(uri.AbsolutePath.Length > 0 ? uri.AbsolutePath : "/");
        var query = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            string name = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]).ToLowerInvariant();
            string value = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            if (!query.TryGetValue(name, out List<string>? values))
            {
                query[name] = values = [];
            }
            values.Add(value);
        }
        foreach (KeyValuePair<string, List<string>> parameter in query)
        {
            parameter.Value.Sort(StringComparer.Ordinal);
            text.Append('\n').Append(parameter.Key).Append(':').Append(string.Join(',', parameter.Value));
        }
        return text.ToString();
    }

    /// <summary>A standard header as sent: from the request or its content; "" when absent.</summary>
    private static string Header(HttpRequestMessage request, string name)
    {
        if (request.Headers.TryGetValues(name, out IEnumerable<string>? values)
            || (request.Content is { } content && content.Headers.TryGetValues(name, out values)))
        {
            return string.Join(", ", values);
        }
        return "";
    }
}
