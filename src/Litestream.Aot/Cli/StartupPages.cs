using System.Runtime.InteropServices;

namespace Litestream.Aot.Cli;

/// <summary>
/// Gives back the pages of the program's code and read-only data that start-up touched and what follows does not
/// use. The kernel maps a file's pages 64 KiB around every one the process touches (fault-around, which no madvise
/// turns off), so the runtime's start-up, parsing the config, opening every database and the first syncs leave
/// megabytes of the exe's and the libraries' text and read-only data resident (they count in RSS) that later code
/// never reads again. MADV_DONTNEED on a file mapping nobody wrote only drops this process's page-table entries:
/// the pages stay in the page cache and a later use maps them back with a minor fault, reading the same bytes.
/// Issue 22, measured: idle RSS with one database 22.9 → 16.8 MB (released 5 s after the databases are added), and
/// `version`'s peak (released as Main starts, right after the runtime rebuilt its type data from the 3 MB the file
/// holds, which nothing reads again).
/// </summary>
internal static partial class StartupPages
{
    private const int MadvDontneed = 4;
    private const uint PtLoad = 1;
    private const uint PfWrite = 2;
    private const int OpenReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC (same value on x64 and arm64)

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "pread")]
    private static unsafe partial nint Pread(int fd, void* buffer, nuint count, long offset);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "dl_iterate_phdr")]
    private static unsafe partial int DlIteratePhdr(delegate* unmanaged<DlPhdrInfo*, nuint, nint, int> callback, nint data);

    /// <summary>How long after the databases are added the daemon first releases its memory: the first sync of a
    /// small database is over by then; a long initial snapshot only maps back what it still runs.</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(5);

    /// <summary>How often the daemon looks whether work since the last trim left garbage behind (<see cref="HeapTrim.RecheckEvery"/>).</summary>
    public static readonly TimeSpan Recheck = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Makes these pages part of the engine's memory release (<see cref="HeapTrim"/>: a compacting collection and
    /// glibc's trim), and asks for one once <see cref="Settle"/> has passed, unless cancelled first. The engine trims
    /// again when databases let their connections go, which with hundreds of databases is when the start-up's burst of
    /// syncs is really over (issue 21): the pages that burst mapped back go then too. From then until cancelled, every
    /// <see cref="Recheck"/> a trim follows work that left the managed heap holding much more than it uses (<see cref="HeapTrim.RecheckEvery"/>).
    /// </summary>
    public static async Task ReleaseAfterSettleAsync(CancellationToken cancellationToken)
    {
        HeapTrim.HostRelease = Release;
        try
        {
            await Task.Delay(Settle, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        HeapTrim.TrimSoon();
        // Periodic work that no database release follows (compaction instants) trims too, when it left garbage behind.
        using IDisposable recheck = HeapTrim.RecheckEvery(Recheck);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Releases the read-only and executable segments of the exe and of every shared library loaded (their program
    /// headers, from the dynamic loader: nothing to parse, nothing allocated). A writable segment is left alone: its
    /// pages, and those of its relocated read-only part (RELRO), are this process's own, and dropping them would bring
    /// back the file's unrelocated bytes; so is any page of a read-only segment the process wrote (<see cref="ReleaseFilePages"/>).
    /// Returns the bytes advised; 0 without /proc.
    /// </summary>
    public static unsafe long Release()
    {
        var state = new ReleaseState { Pagemap = Open("/proc/self/pagemap", OpenReadOnlyCloseOnExec) };
        if (state.Pagemap < 0)
        {
            return 0;
        }
        _ = DlIteratePhdr(&ReleaseObject, (nint)(&state));
        _ = Close(state.Pagemap);
        return state.Released;
    }

    [UnmanagedCallersOnly]
    private static unsafe int ReleaseObject(DlPhdrInfo* info, nuint size, nint stateAddress)
    {
        var state = (ReleaseState*)stateAddress;
        // The vDSO is the kernel's own page, not a file mapping.
        if (info->Name != null && MemoryMarshal.CreateReadOnlySpanFromNullTerminated(info->Name).IndexOf("vdso"u8) >= 0)
        {
            return 0;
        }
        long page = Environment.SystemPageSize;
        for (int i = 0; i < info->PhdrCount; i++)
        {
            ElfProgramHeader* header = info->Phdr + i;
            if (header->Type != PtLoad || (header->Flags & PfWrite) != 0 || header->MemorySize == 0)
            {
                continue;
            }
            long start = (long)(info->Address + header->VirtualAddress) & ~(page - 1);
            long end = ((long)(info->Address + header->VirtualAddress + header->MemorySize) + page - 1) & ~(page - 1);
            state->Released += ReleaseFilePages(state->Pagemap, start / page, end / page, page);
        }
        return 0;
    }

    /// <summary>
    /// Advises pages [first, end) away in runs that skip every private copy: a page of a read-only segment that this
    /// process wrote (the runtime's security cookie in the exe's read-only data, code a JIT host patches in place, a
    /// debugger's breakpoint: a JIT test host crashed without this) shows in /proc/self/pagemap as present but not a
    /// file page, and dropping it would bring back the file's bytes; such a copy the kernel swapped out shows as
    /// swapped, not present, and is kept too. Returns the bytes advised.
    /// </summary>
    private static unsafe long ReleaseFilePages(int pagemap, long first, long end, long page)
    {
        const ulong Present = 1UL << 63;
        const ulong Swapped = 1UL << 62;
        const ulong FilePage = 1UL << 61;
        const int Batch = 512;
        ulong* entries = stackalloc ulong[Batch];
        long released = 0;
        long run = first;
        for (long batch = first; batch < end; batch += Batch)
        {
            long count = Math.Min(Batch, end - batch);
            if (Pread(pagemap, entries, (nuint)(count * sizeof(ulong)), batch * sizeof(ulong)) != count * sizeof(ulong))
            {
                return released; // unreadable: keep the rest rather than guess
            }
            for (long i = 0; i < count; i++)
            {
                if ((entries[i] & (Present | FilePage)) == Present || (entries[i] & Swapped) != 0)
                {
                    released += Advise(run, batch + i, page);
                    run = batch + i + 1;
                }
            }
        }
        return released + Advise(run, end, page);
    }

    private static long Advise(long first, long end, long page) =>
        end > first && Madvise((nint)(first * page), (nuint)((end - first) * page), MadvDontneed) == 0 ? (end - first) * page : 0;

    private struct ReleaseState
    {
        public int Pagemap;
        public long Released;
    }

    /// <summary>glibc's struct dl_phdr_info, as far as this reads it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct DlPhdrInfo
    {
        public nuint Address;
        public byte* Name;
        public ElfProgramHeader* Phdr;
        public ushort PhdrCount;
    }

    /// <summary>Elf64_Phdr (both targets, x64 and arm64, are 64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ElfProgramHeader
    {
        public uint Type;
        public uint Flags;
        public ulong Offset;
        public ulong VirtualAddress;
        public ulong PhysicalAddress;
        public ulong FileSize;
        public ulong MemorySize;
        public ulong Alignment;
    }
}
