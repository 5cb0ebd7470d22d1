using System.Runtime.InteropServices;
using Litestream.Internal;

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

    [Fact]
    public async Task RecheckEvery_AfterAGen1Collection_Trims()
    {
        // Work that no database release follows (a compaction instant) promoted garbage: the next look trims.
        int trims = HeapTrim.TrimCount;
        using IDisposable recheck = HeapTrim.RecheckEvery(TimeSpan.FromMilliseconds(50));
        GC.Collect(1);
        await Wait.UntilAsync(() => HeapTrim.TrimCount > trims, "the trim after the gen1 collection", TimeSpan.FromSeconds(60));
    }

    private static long RssAnonKiB()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("RssAnon:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
