namespace Litestream.Vfs;

/// <summary>
/// LRU cache of decoded pages, keyed by page number and valid only for the exact frame it was decoded
/// from (a newer TXID's index points elsewhere, so stale entries simply miss). Page 1 sits outside the LRU
/// and is never evicted: every read transaction starts with it.
/// </summary>
/// <remarks>
/// The cache owns a fixed set of page arrays: at most <c>capacity / pageSize</c> in the LRU plus page 1's,
/// each allocated once. A miss takes an array (a free one, a new one while under capacity, else the least
/// recently used page's) with <see cref="Rent"/>, the page is decoded straight into it, and
/// <see cref="Commit"/> or <see cref="Return"/> hands it back. A full scan therefore allocates no page
/// arrays once the cache is full: evicted pages used to be left to the GC in gen2, where a 100 MB scan
/// piled up ten times the cache size before a full collection.
/// </remarks>
internal sealed class VfsPageCache
{
    private readonly Dictionary<uint, Entry> _map = [];
    private readonly Stack<Entry> _free = new();
    private readonly int _pageSize;
    private readonly int _capacity;
    private Entry? _page1;
    private Entry? _head;
    private Entry? _tail;
    private int _owned;

    /// <summary>A page array and what it holds; linked into the LRU while it holds a committed page.</summary>
    public sealed class Entry
    {
        internal Entry(int pageSize, bool owned)
        {
            Data = GC.AllocateUninitializedArray<byte>(pageSize);
            Owned = owned;
        }

        /// <summary>Exactly one page.</summary>
        public byte[] Data { get; }

        internal bool Owned { get; }

        internal uint Pgno;
        internal PageRef Source;
        internal Entry? Prev;
        internal Entry? Next;
    }

    public VfsPageCache(long capacityBytes, uint pageSize)
    {
        _pageSize = (int)pageSize;
        _capacity = (int)Math.Min(int.MaxValue - 1, Math.Max(0, capacityBytes) / pageSize);
    }

    /// <summary>Pages held in the LRU (page 1 not counted).</summary>
    public int Count
    {
        get
        {
            lock (_map)
            {
                return _map.Count;
            }
        }
    }

    /// <summary>Page arrays the cache has allocated and keeps (LRU, page 1 and free ones).</summary>
    public int Allocated
    {
        get
        {
            lock (_map)
            {
                return _owned;
            }
        }
    }

    public bool TryGet(uint pgno, PageRef source, Span<byte> destination)
    {
        lock (_map)
        {
            if (pgno == 1)
            {
                if (_page1 is { } p && p.Source == source)
                {
                    p.Data.CopyTo(destination);
                    return true;
                }
                return false;
            }
            if (_map.TryGetValue(pgno, out Entry? entry) && entry.Source == source)
            {
                Unlink(entry);
                LinkFirst(entry);
                entry.Data.CopyTo(destination);
                return true;
            }
            return false;
        }
    }

    /// <summary>
    /// An array to decode a missed page into: a free one, a new one while the cache is under capacity, else
    /// the least recently used page's (evicting it). When every array is out (other threads' misses, or a
    /// zero-size cache), a transient array that <see cref="Commit"/> keeps only as page 1.
    /// </summary>
    public Entry Rent()
    {
        lock (_map)
        {
            if (_free.TryPop(out Entry? free))
            {
                return free;
            }
            // The LRU's share plus page 1's.
            if (_owned < _capacity + 1)
            {
                _owned++;
                return new Entry(_pageSize, owned: true);
            }
            if (_tail is { } last)
            {
                Unlink(last);
                _map.Remove(last.Pgno);
                return last;
            }
        }
        return new Entry(_pageSize, owned: false);
    }

    /// <summary>Gives back an array from <see cref="Rent"/> without caching its content (the read failed).</summary>
    public void Return(Entry entry)
    {
        if (entry.Owned)
        {
            lock (_map)
            {
                _free.Push(entry);
            }
        }
    }

    /// <summary>Caches <paramref name="entry"/>'s data as page <paramref name="pgno"/> decoded from <paramref name="source"/>.</summary>
    public void Commit(Entry entry, uint pgno, PageRef source)
    {
        entry.Pgno = pgno;
        entry.Source = source;
        lock (_map)
        {
            if (pgno == 1)
            {
                Entry? old = _page1;
                _page1 = entry;
                if (old is { Owned: true })
                {
                    _free.Push(old);
                }
                return;
            }
            if (!entry.Owned || _capacity == 0)
            {
                if (entry.Owned)
                {
                    _free.Push(entry);
                }
                return;
            }
            if (_map.Remove(pgno, out Entry? old2))
            {
                Unlink(old2);
                _free.Push(old2);
            }
            _map[pgno] = entry;
            LinkFirst(entry);
        }
    }

    private void LinkFirst(Entry entry)
    {
        entry.Prev = null;
        entry.Next = _head;
        if (_head is not null)
        {
            _head.Prev = entry;
        }
        _head = entry;
        _tail ??= entry;
    }

    private void Unlink(Entry entry)
    {
        if (entry.Prev is null)
        {
            _head = entry.Next;
        }
        else
        {
            entry.Prev.Next = entry.Next;
        }
        if (entry.Next is null)
        {
            _tail = entry.Prev;
        }
        else
        {
            entry.Next.Prev = entry.Prev;
        }
        entry.Prev = null;
        entry.Next = null;
    }
}
