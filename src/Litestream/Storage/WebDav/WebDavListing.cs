using System.Globalization;
using System.Text;
using System.Xml;

namespace Litestream.Storage.WebDav;

/// <summary>One member of a collection as a PROPFIND answer describes it.</summary>
/// <param name="Name">The last segment of its path, unescaped.</param>
/// <param name="IsCollection">A collection (directory), not a file.</param>
/// <param name="Length">getcontentlength, or -1 when the server gave none.</param>
/// <param name="LastModified">getlastmodified, or null when absent or unreadable.</param>
internal readonly record struct WebDavEntry(string Name, bool IsCollection, long Length, DateTimeOffset? LastModified);

/// <summary>
/// The PROPFIND request for a collection's members and the reader of its 207 Multi-Status answer (RFC 4918 §9.1):
/// a forward-only <see cref="XmlReader"/>, no DTD, no external entities, a bounded document size, so a hostile or
/// broken server can neither make the parser fetch anything nor hold unbounded memory.
/// </summary>
internal static class WebDavListing
{
    /// <summary>The largest answer read, in characters: about 800 000 members of a level.</summary>
    public const long MaxCharacters = 256L * 1024 * 1024;

    /// <summary>The longest text of one property (an href, a date) kept.</summary>
    private const int MaxValueLength = 8 * 1024;

    private const string DavNamespace = "DAV:";

    /// <summary>The body asking only for what a listing needs.</summary>
    public const string RequestBody = """<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/></D:prop></D:propfind>""";

    /// <summary>
    /// Every <c>response</c> of a Multi-Status body, in document order; the collection itself is among them
    /// (its name is its own last segment). Names come from the href's path, unescaped.
    /// </summary>
    /// <exception cref="XmlException">Not well-formed XML, a DTD, or larger than <see cref="MaxCharacters"/>.</exception>
    public static Task<List<WebDavEntry>> ReadAsync(Stream body, CancellationToken cancellationToken)
        // XmlReader's synchronous path, on a pool thread: its async twin adds about as much code to the exe as the
        // rest of the backend, and the body's reads are bounded by the stall guard either way.
        => Task.Run(() => Read(body, cancellationToken), cancellationToken);

    private static List<WebDavEntry> Read(Stream body, CancellationToken cancellationToken)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = MaxCharacters,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
            IgnoreWhitespace = true,
        };
        var entries = new List<WebDavEntry>();
        using XmlReader reader = XmlReader.Create(body, settings);
        string? href = null, length = null, modified = null;
        bool collection = false;
        string? capturing = null;
        var text = new StringBuilder();
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            switch (reader.NodeType)
            {
                case XmlNodeType.Element when reader.NamespaceURI == DavNamespace:
                    switch (reader.LocalName)
                    {
                        case "response":
                            (href, length, modified, collection) = (null, null, null, false);
                            break;
                        case "collection":
                            collection = true;
                            break;
                        case "href" or "getcontentlength" or "getlastmodified" when !reader.IsEmptyElement:
                            capturing = reader.LocalName;
                            text.Clear();
                            break;
                    }
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.SignificantWhitespace when capturing is not null:
                    if (text.Length + reader.Value.Length > MaxValueLength)
                    {
                        throw new XmlException($"a {capturing} longer than {MaxValueLength} characters");
                    }
                    text.Append(reader.Value);
                    break;
                case XmlNodeType.EndElement when reader.NamespaceURI == DavNamespace:
                    if (reader.LocalName == capturing)
                    {
                        string value = text.ToString().Trim();
                        switch (capturing)
                        {
                            case "href":
                                href = value;
                                break;
                            case "getcontentlength":
                                length = value;
                                break;
                            default:
                                modified = value;
                                break;
                        }
                        capturing = null;
                    }
                    else if (reader.LocalName == "response" && href is not null)
                    {
                        entries.Add(new WebDavEntry(NameOf(href), collection, ParseLength(length), ParseDate(modified)));
                    }
                    break;
            }
        }
        return entries;
    }

    /// <summary>The last segment of an href (a path or an absolute URL), unescaped; "" for a server root.</summary>
    internal static string NameOf(string href)
    {
        string path = href;
        if (Uri.TryCreate(href, UriKind.Absolute, out Uri? absolute) && absolute.Scheme is "http" or "https")
        {
            path = absolute.AbsolutePath;
        }
        int query = path.IndexOfAny(['?', '#']);
        if (query >= 0)
        {
            path = path[..query];
        }
        path = path.TrimEnd('/');
        return Uri.UnescapeDataString(path[(path.LastIndexOf('/') + 1)..]);
    }

    private static long ParseLength(string? text)
        => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : -1;

    /// <summary>RFC 1123 (<c>Sun, 06 Dec 2026 18:02:26 GMT</c>) as RFC 4918 requires; other spellings servers use, when they parse.</summary>
    private static DateTimeOffset? ParseDate(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (DateTimeOffset.TryParseExact(text, "r", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out DateTimeOffset rfc1123))
        {
            return rfc1123;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTimeOffset other)
            ? other
            : null;
    }
}
