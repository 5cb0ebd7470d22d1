using System.Runtime.InteropServices;

namespace Litestream.Tests.Internal;

/// <summary>
/// The C heap's free pages go back to the kernel after databases let their SQLite connections go (issue 21: 100 idle
/// databases kept 30 MB of freed glibc arena pages resident).
/// </summary>
[Collection(RunsAloneCollection.Name)]
public class HeapTrimTests
{
    [Fact]
    public void Trim_FreedChunksBetweenLiveOnes_LeaveTheResidentSet()
    {
        // 80 MB in chunks below glibc's mmap threshold come from an arena; every other one is freed, so each freed
        // chunk lies between two that stay (as SQLite's freed pages sit between what other connections still hold):
        // glibc cannot coalesce them into the arena's top, and keeps their pages resident until the trim. (Small pins
        // between the chunks did not hold them apart in a process where earlier tests left free small chunks.)
        const int count = 800, size = 100 * 1024;
        var chunks = new nint[count];
        byte[] ones = new byte[size];
        Array.Fill(ones, (byte)1);
        for (int i = 0; i < count; i++)
        {
            chunks[i] = Marshal.AllocHGlobal(size);
            Marshal.Copy(ones, 0, chunks[i], size); // resident, as SQLite's pages are
        }
        try
        {
            for (int i = 0; i < count; i += 2)
            {
                Marshal.FreeHGlobal(chunks[i]);
                chunks[i] = 0;
            }
            long before = RssAnonKiB();
            HeapTrim.Trim();
            long after = RssAnonKiB();
            // A quarter of the 40 MB freed: glibc keeps some holes (and other threads allocate meanwhile).
            Assert.True(before - after >= 10 * 1024, $"RssAnon {before} KiB before the trim, {after} KiB after");
        }
        finally
        {
            foreach (nint chunk in chunks)
            {
                if (chunk != 0)
                {
                    Marshal.FreeHGlobal(chunk);
                }
            }
        }
    }

    [Fact]
    public async Task TrimSoon_BurstOfReleases_RunsTheHostsReleaseStepOnce()
    {
        // A hundred databases letting their connections go at the end of the start-up's burst: one trim, and the
        // host's own release (the exe's file pages) runs in it, once.
        int calls = 0;
        HeapTrim.HostRelease = () =>
        {
            Interlocked.Increment(ref calls);
            return 0;
        };
        int trims = HeapTrim.TrimCount;
        try
        {
            for (int i = 0; i < 100; i++)
            {
                HeapTrim.TrimSoon();
            }
            await Wait.UntilAsync(() => Volatile.Read(ref calls) > 0, "the host's release step", TimeSpan.FromSeconds(60));
            Assert.Equal(1, Volatile.Read(ref calls));
            Assert.Equal(trims + 1, HeapTrim.TrimCount);
        }
        finally
        {
            HeapTrim.HostRelease = null;
        }
    }

    [Theory]
    // 100 idle databases after their gen0 collections: 3.5 MB free in a 6 MB heap.
    [InlineData(20, 17, 6_000_000, 3_500_000, 6_000_000, true)]
    // 1 000 idle databases after a compaction instant: 19 MB committed for a 12.6 MB heap, 0.5 MB of it free.
    [InlineData(120, 110, 12_600_000, 500_000, 19_200_000, true)]
    // A 1 000-database heap after an instant that did not decommit: 18.65 MB committed for 12.9 MB, 0.36 MB free
    // (measured: a half-the-live-data rule left it there).
    [InlineData(120, 110, 12_929_000, 364_000, 18_652_000, true)]
    // The same heap between instants: its gen0 collections leave ~2.6 MB free of ~13 MB, under a third of the live data.
    [InlineData(120, 110, 13_400_000, 2_600_000, 13_400_000, false)]
    // No collection since the trim's own: nothing to win, however the numbers look.
    [InlineData(17, 17, 6_000_000, 3_500_000, 6_000_000, false)]
    // A tiny heap: under a megabyte of waste is not worth a collection.
    [InlineData(20, 17, 1_200_000, 700_000, 1_300_000, false)]
    public void Wasteful_TrimsOnlyWhenACollectionLeftAThirdOfTheLiveDataAgain(long index, long indexAtTrim, long heap, long fragmented, long committed, bool expected)
    {
        Assert.Equal(expected, HeapTrim.Wasteful(index, indexAtTrim, heap, fragmented, committed));
    }

    private static long RssAnonKiB()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("RssAnon:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
