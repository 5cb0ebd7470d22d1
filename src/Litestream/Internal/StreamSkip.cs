namespace Litestream.Internal;

/// <summary>Reads and drops the start of a body: a server that ignored a Range header sent the whole object.</summary>
internal static class StreamSkip
{
    /// <summary>Reads and drops <paramref name="count"/> bytes of <paramref name="body"/> (fewer when it ends first).</summary>
    public static async Task SkipAsync(Stream body, long count, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[Math.Min(count, 64 * 1024)];
        while (count > 0)
        {
            int n = await body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return;
            }
            count -= n;
        }
    }
}
