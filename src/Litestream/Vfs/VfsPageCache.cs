namespace Litestream.Vfs;

/// <summary>
/// LRU cache of decoded pages, keyed by page number and valid only for the exact frame it was decoded
/// from (a newer TXID's index points elsewhere, so stale entries simply miss). Page 1 sits outside the LRU
/// and is never evicted: every read transaction starts with it.
/// </summary>
internal sealed class VfsPageCache
{
    private readonly Dictionary<uint, LinkedListNode<Entry>> _map = [];
    private readonly LinkedList<Entry> _lru = new();
    private readonly long _capacityBytes;
    private Entry? _page1;
    private long _bytes;

    private sealed record Entry(uint Pgno, PageRef Source, byte[] Data);

    public VfsPageCache(long capacityBytes) => _capacityBytes = Math.Max(0, capacityBytes);

    /// <summary>Pages held in the LRU (page 1 not counted).</summary>
    public int Count
    {
        get
        {
            lock (_lru)
            {
                return _map.Count;
            }
        }
    }

    public bool TryGet(uint pgno, PageRef source, Span<byte> destination)
    {
        lock (_lru)
        {
            if (pgno == 1)
            {
                if (_page1 is { } p && p.Source == source && p.Data.Length == destination.Length)
                {
                    p.Data.CopyTo(destination);
                    return true;
                }
                return false;
            }
            if (_map.TryGetValue(pgno, out LinkedListNode<Entry>? node) && node.Value.Source == source && node.Value.Data.Length == destination.Length)
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                node.Value.Data.CopyTo(destination);
                return true;
            }
            return false;
        }
    }

    public void Add(uint pgno, PageRef source, ReadOnlySpan<byte> data)
    {
        var entry = new Entry(pgno, source, data.ToArray());
        lock (_lru)
        {
            if (pgno == 1)
            {
                _page1 = entry;
                return;
            }
            if (_map.Remove(pgno, out LinkedListNode<Entry>? old))
            {
                _lru.Remove(old);
                _bytes -= old.Value.Data.Length;
            }
            if (entry.Data.Length > _capacityBytes)
            {
                return;
            }
            _map[pgno] = _lru.AddFirst(entry);
            _bytes += entry.Data.Length;
            while (_bytes > _capacityBytes && _lru.Last is { } last)
            {
                _lru.RemoveLast();
                _map.Remove(last.Value.Pgno);
                _bytes -= last.Value.Data.Length;
            }
        }
    }
}
