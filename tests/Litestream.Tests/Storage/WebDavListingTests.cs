using System.Text;
using System.Xml;
using Litestream.Storage.WebDav;

namespace Litestream.Tests.Storage;

/// <summary>The PROPFIND answer reader: the spellings real servers use, and hostile documents refused.</summary>
public sealed class WebDavListingTests
{
    private static Task<List<WebDavEntry>> Read(string xml) => WebDavListing.ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(xml)), default);

    [Fact]
    public async Task Read_NginxAndRcloneSpellings_NamesLengthsTimes()
    {
        List<WebDavEntry> entries = await Read("""
            <?xml version="1.0" encoding="utf-8" ?>
            <D:multistatus xmlns:D="DAV:">
            <D:response><D:href>/app/ltx/0/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/></D:resourcetype>
              <D:getlastmodified>Sun, 06 Dec 2026 18:02:26 GMT</D:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
            <D:response><D:href>http://127.0.0.1:8080/app/ltx/0/0000000000000001-0000000000000002.ltx</D:href><D:propstat><D:prop>
              <D:resourcetype/><D:getcontentlength>4096</D:getcontentlength><D:getlastmodified>Sun, 06 Dec 2026 18:02:27 GMT</D:getlastmodified>
              </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
            <response xmlns="DAV:"><href>/app/ltx/0/with%20space.ltx</href><propstat><prop><getcontentlength/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>
            </D:multistatus>
            """);
        Assert.Equal(
        [
            new WebDavEntry("0", true, -1, new DateTimeOffset(2026, 12, 6, 18, 2, 26, TimeSpan.Zero)),
            new WebDavEntry("0000000000000001-0000000000000002.ltx", false, 4096, new DateTimeOffset(2026, 12, 6, 18, 2, 27, TimeSpan.Zero)),
            new WebDavEntry("with space.ltx", false, -1, null),
        ], entries);
    }

    [Fact]
    public async Task Read_Dtd_Refused()
    {
        await Assert.ThrowsAsync<XmlException>(() => Read("""
            <?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>
            <D:multistatus xmlns:D="DAV:"><D:response><D:href>&x;</D:href></D:response></D:multistatus>
            """));
    }

    [Fact]
    public async Task Read_OversizedValue_Refused()
    {
        string href = new('a', 9000);
        XmlException e = await Assert.ThrowsAsync<XmlException>(() => Read($"""<D:multistatus xmlns:D="DAV:"><D:response><D:href>{href}</D:href></D:response></D:multistatus>"""));
        Assert.Equal("a href longer than 8192 characters", e.Message);
    }

    [Fact]
    public async Task Read_Truncated_Refused()
    {
        await Assert.ThrowsAsync<XmlException>(() => Read("""<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href>"""));
    }
}
