using Litestream.Ltx;
using Litestream.Vfs;

namespace Litestream.Tests.Vfs;

public class VfsPageCacheTests
{
    private const uint PageSize = 4096;
    private static readonly LtxFileInfo s_file = new(0, new Txid(1), new Txid(1), 1 << 20, DateTimeOffset.UnixEpoch);
    private static readonly LtxFileInfo s_newer = new(0, new Txid(2), new Txid(2), 1 << 20, DateTimeOffset.UnixEpoch);

    private static PageRef Ref(uint pgno, LtxFileInfo? file = null) => new(file ?? s_file, 100 + pgno * 10L, 10);

    private static void Put(VfsPageCache cache, uint pgno, PageRef source)
    {
        VfsPageCache.Entry entry = cache.Rent();
        entry.Data.AsSpan().Fill((byte)pgno);
        cache.Commit(entry, pgno, source);
    }

    [Fact]
    public void Rent_FullScanOfManyPages_ReusesEvictedArrays_NeverAllocatesBeyondCapacityPlusPage1()
    {
        var cache = new VfsPageCache(4 * PageSize, PageSize);
        var arrays = new HashSet<byte[]>(ReferenceEqualityComparer.Instance);
        for (uint pgno = 1; pgno <= 1000; pgno++)
        {
            VfsPageCache.Entry entry = cache.Rent();
            arrays.Add(entry.Data);
            entry.Data.AsSpan().Fill((byte)pgno);
            cache.Commit(entry, pgno, Ref(pgno));
        }
        Assert.Equal(5, cache.Allocated);
        Assert.Equal(5, arrays.Count);
        Assert.Equal(4, cache.Count);

        // Page 1 survived a thousand misses; the four newest pages are the LRU's.
        byte[] page = new byte[PageSize];
        Assert.True(cache.TryGet(1, Ref(1), page));
        Assert.All(page, b => Assert.Equal((byte)1, b));
        for (uint pgno = 997; pgno <= 1000; pgno++)
        {
            Assert.True(cache.TryGet(pgno, Ref(pgno), page));
            Assert.All(page, b => Assert.Equal((byte)pgno, b));
        }
        Assert.False(cache.TryGet(996, Ref(996), page));
    }

    [Fact]
    public void TryGet_HitMovesPageToFront_LeastRecentlyUsedIsEvicted()
    {
        var cache = new VfsPageCache(3 * PageSize, PageSize);
        Put(cache, 1, Ref(1));
        Put(cache, 2, Ref(2));
        Put(cache, 3, Ref(3));
        Put(cache, 4, Ref(4));
        byte[] page = new byte[PageSize];
        Assert.True(cache.TryGet(2, Ref(2), page));
        Put(cache, 5, Ref(5));
        Put(cache, 6, Ref(6));

        Assert.True(cache.TryGet(2, Ref(2), page));
        Assert.False(cache.TryGet(3, Ref(3), page));
        Assert.False(cache.TryGet(4, Ref(4), page));
        Assert.True(cache.TryGet(6, Ref(6), page));
        Assert.Equal((byte)6, page[PageSize - 1]);
    }

    [Fact]
    public void TryGet_PageFromAnotherFrame_Misses()
    {
        var cache = new VfsPageCache(8 * PageSize, PageSize);
        Put(cache, 1, Ref(1));
        Put(cache, 7, Ref(7));
        byte[] page = new byte[PageSize];
        Assert.False(cache.TryGet(7, Ref(7, s_newer), page));
        Assert.False(cache.TryGet(1, Ref(1, s_newer), page));
        Assert.True(cache.TryGet(7, Ref(7), page));
    }

    [Fact]
    public void Return_FailedRead_ArrayIsReusedAndNothingCached()
    {
        var cache = new VfsPageCache(2 * PageSize, PageSize);
        VfsPageCache.Entry failed = cache.Rent();
        cache.Return(failed);
        VfsPageCache.Entry next = cache.Rent();
        Assert.Same(failed.Data, next.Data);
        Assert.Equal(0, cache.Count);
        Assert.Equal(1, cache.Allocated);
    }

    [Fact]
    public void Rent_ZeroCapacity_KeepsOnlyPage1()
    {
        var cache = new VfsPageCache(0, PageSize);
        for (uint pgno = 1; pgno <= 20; pgno++)
        {
            Put(cache, pgno, Ref(pgno));
        }
        byte[] page = new byte[PageSize];
        Assert.True(cache.TryGet(1, Ref(1), page));
        Assert.False(cache.TryGet(20, Ref(20), page));
        Assert.Equal(0, cache.Count);
        Assert.Equal(1, cache.Allocated);
    }
}
