using System.Buffers;

namespace Litestream.Ltx;

/// <summary>Options for <see cref="LtxCompactor.Compact"/>.</summary>
public sealed record LtxCompactionOptions
{
    /// <summary>Header flags of the output; Litestream writes NoChecksum.</summary>
    public uint HeaderFlags { get; init; } = LtxConstants.HeaderFlagNoChecksum;

    /// <summary>
    /// Accept inputs whose TXID ranges overlap (the next file starts at or before the previous max + 1,
    /// upstream <c>IsContiguous</c>); gaps are still refused.
    /// </summary>
    public bool AllowOverlap { get; init; }

    /// <summary>Output timestamp (Unix ms); the last input's timestamp when null.</summary>
    public long? Timestamp { get; init; }

    /// <summary>Keys for encrypted inputs; the output is encrypted under <see cref="LtxKeyRing.Current"/> when set.</summary>
    public LtxKeyRing? Keys { get; init; }
}

/// <summary>
/// Merges TXID-ordered LTX files into one (ltx <c>Compactor</c>, LTX.md §9): the newest copy of each
/// page wins, pages beyond the last file's commit are dropped, and every input is fully verified.
/// Streams in a k-way merge holding one page per input in memory.
/// </summary>
public static class LtxCompactor
{
    /// <summary>Writes the merge of <paramref name="inputs"/> to <paramref name="output"/> and returns its trailer.</summary>
    public static LtxTrailer Compact(Stream output, IReadOnlyList<Stream> inputs, LtxCompactionOptions? options = null)
    {
        options ??= new LtxCompactionOptions();
        if (inputs.Count == 0)
        {
            throw new ArgumentException("at least one input file required", nameof(inputs));
        }
        var decoders = new LtxDecoder[inputs.Count];
        var buffers = new byte[inputs.Count][];
        var pending = new LtxPageHeader?[inputs.Count];
        try
        {
            var chain = new LtxTxidChain(options.AllowOverlap);
            for (int i = 0; i < inputs.Count; i++)
            {
                decoders[i] = new LtxDecoder(inputs[i], leaveOpen: true) { KeepPageIndex = false, Keys = options.Keys };
                chain.Append(decoders[i].DecodeHeader());
            }
            LtxHeader first = decoders[0].Header, last = decoders[^1].Header;
            bool noChecksum = (options.HeaderFlags & LtxConstants.HeaderFlagNoChecksum) != 0;
            var outHeader = new LtxHeader
            {
                Flags = options.HeaderFlags,
                PageSize = first.PageSize,
                Commit = last.Commit,
                MinTxid = first.MinTxid,
                MaxTxid = last.MaxTxid,
                Timestamp = options.Timestamp ?? last.Timestamp,
                PreApplyChecksum = noChecksum ? 0 : first.PreApplyChecksum,
                NodeId = NewestLeaseNodeId(decoders),
            };
            using var encoder = new LtxEncoder(output, leaveOpen: true) { Cipher = options.Keys?.Current };
            encoder.EncodeHeader(outHeader);

            int pageSize = (int)first.PageSize;
            for (int i = 0; i < decoders.Length; i++)
            {
                buffers[i] = ArrayPool<byte>.Shared.Rent(pageSize);
                pending[i] = Next(decoders[i], buffers[i], pageSize);
            }
            while (true)
            {
                uint min = uint.MaxValue;
                foreach (LtxPageHeader? p in pending)
                {
                    if (p is { } ph && ph.Pgno < min)
                    {
                        min = ph.Pgno;
                    }
                }
                if (min == uint.MaxValue)
                {
                    break;
                }
                // The newest input holding the page wins; older copies are read past (and verified).
                int winner = -1;
                for (int i = decoders.Length - 1; i >= 0; i--)
                {
                    if (pending[i] is { } ph && ph.Pgno == min && winner < 0)
                    {
                        winner = i;
                    }
                }
                if (min <= outHeader.Commit)
                {
                    encoder.EncodePage(min, buffers[winner].AsSpan(0, pageSize));
                }
                for (int i = 0; i < decoders.Length; i++)
                {
                    if (pending[i] is { } ph && ph.Pgno == min)
                    {
                        pending[i] = Next(decoders[i], buffers[i], pageSize);
                    }
                }
            }
            LtxTrailer lastTrailer = default;
            foreach (LtxDecoder decoder in decoders)
            {
                lastTrailer = decoder.Close();
            }
            return encoder.Close(noChecksum ? 0 : lastTrailer.PostApplyChecksum);
        }
        finally
        {
            foreach (LtxDecoder? decoder in decoders)
            {
                decoder?.Dispose();
            }
            foreach (byte[]? buffer in buffers)
            {
                if (buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
    }

    /// <summary>The chain check, now <see cref="LtxTxidChain.Check"/> (its one owner).</summary>
    [Obsolete("Use LtxTxidChain.Check.")]
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public static void CheckSequence(LtxHeader previous, LtxHeader next, bool allowOverlap) => LtxTxidChain.Check(previous, next, allowOverlap);

    /// <summary>The output's NodeID: the newest lease generation among the inputs (0 when none carries one), so the merge sits in the generation order its inputs had.</summary>
    private static ulong NewestLeaseNodeId(LtxDecoder[] decoders)
    {
        ulong newest = 0;
        foreach (LtxDecoder decoder in decoders)
        {
            if (LtxNodeId.LeaseGeneration(decoder.Header.NodeId) > LtxNodeId.LeaseGeneration(newest))
            {
                newest = decoder.Header.NodeId;
            }
        }
        return newest;
    }

    private static LtxPageHeader? Next(LtxDecoder decoder, byte[] buffer, int pageSize)
        => decoder.TryDecodePage(buffer.AsSpan(0, pageSize), out LtxPageHeader header) ? header : null;
}
