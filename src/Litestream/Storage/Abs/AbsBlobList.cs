using System.Globalization;
using System.Xml;

namespace Litestream.Storage.Abs;

/// <summary>One blob of a List Blobs page: what the replica reads of it.</summary>
internal sealed record AbsBlob(string Name, long Size, DateTimeOffset? CreatedOn, DateTimeOffset? LastModified, string? Timestamp);

/// <summary>
/// A List Blobs answer (<c>EnumerationResults</c>): its blobs and the marker of the next page. Read with an
/// <see cref="XmlReader"/> that takes no DTD and at most <see cref="MaxCharacters"/>; only the elements the replica
/// uses are kept (name, size, creation and modification times, the <c>litestreamtimestamp</c> metadata).
/// </summary>
internal sealed record AbsBlobList(List<AbsBlob> Blobs, string? NextMarker)
{
    /// <summary>A page of 5000 blobs is about 5 MB of XML; anything past this is not a listing.</summary>
    public const long MaxCharacters = 64L * 1024 * 1024;

    private static readonly XmlReaderSettings s_settings = new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        MaxCharactersInDocument = MaxCharacters,
        IgnoreComments = true,
        IgnoreWhitespace = true,
    };

    /// <summary>Reads one page: <c>EnumerationResults/Blobs/Blob</c> with <c>Name</c>, <c>Properties/*</c> and <c>Metadata/*</c>, and <c>NextMarker</c>.</summary>
    /// <exception cref="XmlException">Not XML, or too large.</exception>
    public static Task<AbsBlobList> ReadAsync(Stream body, CancellationToken cancellationToken)
        // XmlReader's synchronous path, on a pool thread, as WebDavListing reads: its async twin costs the exe about
        // 0.2 MB, and the body's reads are bounded by the stall guard either way.
        => Task.Run(() => Read(body, cancellationToken), cancellationToken);

    private static AbsBlobList Read(Stream body, CancellationToken cancellationToken)
    {
        var blobs = new List<AbsBlob>();
        string? next = null;
        AbsBlob? blob = null;
        using XmlReader reader = XmlReader.Create(body, s_settings);
        // Reading an element's text leaves the reader on the node after it, which is looked at before reading on.
        bool read = true;
        while (!read || reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            read = true;
            if (reader.NodeType == XmlNodeType.EndElement && reader.Depth == 2 && blob is not null)
            {
                blobs.Add(blob);
                blob = null;
                continue;
            }
            if (reader.NodeType != XmlNodeType.Element || reader.IsEmptyElement)
            {
                continue;
            }
            (int depth, string element) = (reader.Depth, reader.LocalName);
            if (depth == 2 && element == "Blob")
            {
                blob = new AbsBlob("", 0, null, null, null);
                continue;
            }
            bool wanted = (depth == 1 && element == "NextMarker") || (blob is not null && ((depth == 3 && element == "Name")
                || (depth == 4 && element is "Content-Length" or "Creation-Time" or "Last-Modified" or AbsReplicaClient.TimestampMetadataKey)));
            if (!wanted)
            {
                continue;
            }
            string value = reader.ReadElementContentAsString();
            read = false;
            next = element == "NextMarker" ? value : next;
            blob = blob is null ? null : element switch
            {
                "Name" => blob with { Name = value },
                "Content-Length" => blob with { Size = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long size) ? size : 0 },
                "Creation-Time" => blob with { CreatedOn = ParseDate(value) },
                "Last-Modified" => blob with { LastModified = ParseDate(value) },
                AbsReplicaClient.TimestampMetadataKey => blob with { Timestamp = value },
                _ => blob,
            };
        }
        return new AbsBlobList(blobs, string.IsNullOrEmpty(next) ? null : next);
    }

    /// <summary>An RFC 1123 date, as Azure writes them.</summary>
    internal static DateTimeOffset? ParseDate(string value)
        => DateTimeOffset.TryParseExact(value.Trim(), "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date) ? date : null;
}
