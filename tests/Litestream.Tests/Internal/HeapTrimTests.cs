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
        // 40 MB in chunks below glibc's mmap threshold come from an arena, each followed by a small chunk that stays
        // (as SQLite's freed pages sit between what other connections still hold): glibc cannot shrink the arena's
        // top by itself and keeps the freed pages resident until the trim.
        const int count = 400, size = 100 * 1024;
        var chunks = new nint[count];
        var pins = new nint[count];
        byte[] ones = new byte[size];
        Array.Fill(ones, (byte)1);
        for (int i = 0; i < count; i++)
        {
            chunks[i] = Marshal.AllocHGlobal(size);
            Marshal.Copy(ones, 0, chunks[i], size); // resident, as SQLite's pages are
            pins[i] = Marshal.AllocHGlobal(64);
        }
        try
        {
            foreach (nint chunk in chunks)
            {
                Marshal.FreeHGlobal(chunk);
            }
            long before = RssAnonKiB();
            HeapTrim.Trim();
            long after = RssAnonKiB();
            // A quarter of what was freed: glibc keeps some holes (and other tests' threads allocate meanwhile); measured 20-40 MB.
            Assert.True(before - after >= 10 * 1024, $"RssAnon {before} KiB before the trim, {after} KiB after");
        }
        finally
        {
            foreach (nint pin in pins)
            {
                Marshal.FreeHGlobal(pin);
            }
        }
    }

    private static long RssAnonKiB()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("RssAnon:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
