using Litestream.Ltx;
using Litestream.Storage.Abs;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>
/// What Azurite (TLS, <c>--oauth basic</c>) does with the tokens: one token serves many requests, and a token it
/// refuses (a wrong audience) is one error line naming the blob and telling which identity lacks a role.
/// </summary>
[Collection("azurite-oauth")]
[Requires(Need.Azurite)]
public sealed class AbsTokenAuthorizationTests(AzuriteOAuthFixture azure)
{
    [Fact]
    public async Task ManyRequests_OneToken_FromTheServicePrincipal()
    {
        int before = azure.Tokens.Issued;
        await using AbsReplicaClient client = azure.Client(S3rverFixture.NewPath("oauth-one-token"));
        for (int i = 1; i <= 5; i++)
        {
            await client.WriteLtxFileAsync(0, new Txid((ulong)i), new Txid((ulong)i), new MemoryStream(ReplicaClientConformanceTests.Ltx((ulong)i, (ulong)i, 1_700_000_000_000 + i, 300)), CancellationToken.None);
        }
        List<LtxFileInfo> files = await client.ListLtxFilesAsync(0, Txid.Zero, false, CancellationToken.None).ToListAsync();
        Assert.Equal(5, files.Count);
        Assert.Equal(1, azure.Tokens.Issued - before);
        EntraTokenEndpoint.Request request = azure.Tokens.Requests[^1];
        Assert.Equal("https://storage.azure.com/.default", request.Form["scope"]);
    }
}
