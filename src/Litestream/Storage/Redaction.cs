using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Litestream.Storage;

/// <summary>
/// The one owner of "no secret is ever printed". <see cref="Apply"/> replaces, in any text about to leave the
/// process (a log line, an error, command output, the health file, a control-socket answer):
/// <list type="bullet">
/// <item>the user info of every URL that carries a password (<c>s3://KEY:SECRET@bucket</c> → <c>s3://REDACTED@bucket</c>),
/// found by <see cref="ReplicaUrl.UserInfoEnd"/> so a secret holding <c>/ ? @ :</c> is cut where the parser cuts it;</item>
/// <item>the values of secret query parameters (<c>sseCustomerKey=…</c>);</item>
/// <item>every secret <see cref="Register(string?)"/> was told about (credentials from the config, the environment
/// and URLs), also in its percent-encoded and JSON-escaped spellings.</item>
/// </list>
/// Secrets are registered where they enter (URL parsing, client creation) and the registry only grows: a secret
/// seen once stays redacted for the life of the process.
/// </summary>
public static class Redaction
{
    /// <summary>What a secret is replaced with.</summary>
    public const string Mask = "REDACTED";

    private static readonly SearchValues<char> s_urlEnd = SearchValues.Create(" \t\r\n\"'<>`");
    /// <summary>Query keys that are credentials whatever the backend; each backend's own are its [ReplicaSecret] keys.</summary>
    private static readonly HashSet<string> s_genericSecretKeys = new(StringComparer.OrdinalIgnoreCase) { "password", "token", "secret" };

    private static readonly Lock s_lock = new();
    private static readonly HashSet<string> s_known = new(StringComparer.Ordinal);
    // Longest first, so a secret that contains another is replaced whole.
    private static string[] s_secrets = [];

    /// <summary>
    /// True when <paramref name="key"/> (a query parameter, or a backend key in <see cref="ReplicaSettings.Options"/>)
    /// holds a secret: a [ReplicaSecret] key of any backend, in its litestream.yml or camelCase spelling, or a generic one.
    /// </summary>
    internal static bool IsSecretQueryKey(string key) => s_genericSecretKeys.Contains(key) || ReplicaClientRegistry.IsSecretKey(key);

    /// <summary>Remembers <paramref name="secret"/> (null or empty: nothing) so that <see cref="Apply"/> replaces it.</summary>
    internal static void Register(string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return;
        }
        lock (s_lock)
        {
            bool added = false;
            foreach (string spelling in (string[])[secret, Uri.EscapeDataString(secret), JsonEncodedText.Encode(secret).ToString()])
            {
                added |= s_known.Add(spelling);
            }
            if (added)
            {
                s_secrets = [.. s_known.OrderByDescending(s => s.Length)];
            }
        }
    }

    /// <summary>Remembers every credential of <paramref name="settings"/>: the values of its secret keys.</summary>
    internal static void Register(ReplicaSettings settings)
    {
        foreach (KeyValuePair<string, string> option in settings.Options)
        {
            if (IsSecretQueryKey(option.Key))
            {
                Register(option.Value);
            }
        }
    }

    /// <summary><paramref name="text"/> with every credential replaced by <see cref="Mask"/>; the same instance when it holds none.</summary>
    public static string Apply(string text)
    {
        if (text.Contains("://", StringComparison.Ordinal))
        {
            text = RedactUrls(text);
        }
        foreach (string secret in s_secrets)
        {
            text = RedactSecret(text, secret);
        }
        return text;
    }

    /// <summary>
    /// Replaces <paramref name="secret"/> in <paramref name="text"/>: every occurrence of a secret of 8 characters
    /// or more; a shorter one (a test's or a placeholder's, e.g. "y") only where it stands alone, so it does not
    /// mangle the words of the message that happen to contain it.
    /// </summary>
    internal static string RedactSecret(string text, string secret)
    {
        int at = secret.Length == 0 ? -1 : text.IndexOf(secret, StringComparison.Ordinal);
        if (at < 0)
        {
            return text;
        }
        if (secret.Length >= 8)
        {
            return text.Replace(secret, Mask, StringComparison.Ordinal);
        }
        var result = new StringBuilder(text.Length);
        int start = 0;
        for (; at >= 0; at = text.IndexOf(secret, at + secret.Length, StringComparison.Ordinal))
        {
            bool alone = (at == 0 || !char.IsLetterOrDigit(text[at - 1]))
                && (at + secret.Length == text.Length || !char.IsLetterOrDigit(text[at + secret.Length]));
            if (alone)
            {
                result.Append(text, start, at - start).Append(Mask);
                start = at + secret.Length;
            }
        }
        return start == 0 ? text : result.Append(text, start, text.Length - start).ToString();
    }

    /// <summary>The user info with a password and the secret query values of every <c>scheme://…</c> in the text.</summary>
    private static string RedactUrls(string text)
    {
        List<(int Start, int End)>? ranges = null;
        for (int sep = text.IndexOf("://", StringComparison.Ordinal); sep >= 0;)
        {
            // A URL in running text ends at white space or a quote.
            int start = sep + 3;
            int length = text.AsSpan(start).IndexOfAny(s_urlEnd);
            int end = length < 0 ? text.Length : start + length;
            int host = start;
            int at = ReplicaUrl.UserInfoEnd(text.AsSpan(start, end - start));
            if (at > 0 && text.AsSpan(start, at).Contains(':'))
            {
                (ranges ??= []).Add((start, start + at));
                host = start + at;
            }
            int query = text.AsSpan(host, end - host).IndexOf('?');
            for (int pair = host + query + 1; query >= 0 && pair < end;)
            {
                int amp = text.AsSpan(pair, end - pair).IndexOf('&');
                int pairEnd = amp < 0 ? end : pair + amp;
                int eq = text.AsSpan(pair, pairEnd - pair).IndexOf('=');
                if (eq > 0 && pair + eq + 1 < pairEnd && IsSecretQueryKey(Uri.UnescapeDataString(text[pair..(pair + eq)])))
                {
                    (ranges ??= []).Add((pair + eq + 1, pairEnd));
                }
                pair = pairEnd + 1;
            }
            // Past the user info (a "://" in a secret is no URL), but into the query: "endpoint=http://u:p@h" is one.
            sep = text.IndexOf("://", host, StringComparison.Ordinal);
        }
        if (ranges is null)
        {
            return text;
        }
        ranges.Sort();
        var result = new StringBuilder(text.Length);
        int copied = 0;
        foreach ((int rangeStart, int rangeEnd) in ranges)
        {
            if (rangeStart >= copied)
            {
                result.Append(text, copied, rangeStart - copied).Append(Mask);
            }
            copied = Math.Max(copied, rangeEnd);
        }
        return result.Append(text, copied, text.Length - copied).ToString();
    }
}
