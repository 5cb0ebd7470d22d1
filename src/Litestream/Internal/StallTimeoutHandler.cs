using System.Net;
using Litestream.Storage;

namespace Litestream.Internal;

/// <summary>
/// Bounds every silent phase of an HTTP request to storage (<see cref="StorageTimeouts"/>): waiting for the
/// response headers once the request is out (<see cref="StorageTimeouts.Response"/>), an upload body the
/// server stops accepting and a response body that stops arriving (<see cref="StorageTimeouts.Idle"/>, reset by
/// every byte, so slow links are fine). The connect limit is the inner <see cref="SocketsHttpHandler"/>'s. A
/// limit reached throws a <see cref="StallException"/> saying which phase stalled. Sits below the SDK's retry
/// loop, above the sockets.
/// </summary>
internal sealed class StallTimeoutHandler(HttpMessageHandler inner, StorageTimeouts timeouts) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var watchdog = new Watchdog(cancellationToken);
        watchdog.Arm(timeouts.Response, "no response");
        if (request.Content is { } content)
        {
            request.Content = new WatchedRequestContent(content, watchdog, timeouts);
        }
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, watchdog.Token).ConfigureAwait(false);
        }
        catch (Exception) when (watchdog.Fired)
        {
            throw new StallException(watchdog.Describe());
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsConnectTimeout(e))
        {
            throw new StallException($"stalled: could not connect within {GoDuration.Format(timeouts.Connect)}");
        }
        watchdog.Disarm();
        response.Content = new GuardedResponseContent(response.Content, timeouts.Idle);
        return response;
    }

    /// <summary>SocketsHttpHandler reports its ConnectTimeout as a cancellation caused by a <see cref="TimeoutException"/>.</summary>
    private static bool IsConnectTimeout(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is TimeoutException)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>One request's timer: re-armed at each phase and each body write, cancelling the request when it runs out.</summary>
    private sealed class Watchdog(CancellationToken caller) : IDisposable
    {
        private readonly CancellationTokenSource _source = CancellationTokenSource.CreateLinkedTokenSource(caller);
        private readonly Lock _lock = new();
        private string _waitingFor = "";
        private TimeSpan _limit;
        private bool _disarmed;

        public CancellationToken Token => _source.Token;

        /// <summary>The timer ran out (not the caller's cancellation).</summary>
        public bool Fired => _source.IsCancellationRequested && !caller.IsCancellationRequested && !_disarmed;

        public void Arm(TimeSpan limit, string waitingFor)
        {
            lock (_lock)
            {
                if (!_disarmed && !_source.IsCancellationRequested)
                {
                    _limit = limit;
                    _waitingFor = waitingFor;
                    _source.CancelAfter(limit);
                }
            }
        }

        /// <summary>The response headers arrived: the rest is the body's business (a server may answer before it read the whole upload).</summary>
        public void Disarm()
        {
            lock (_lock)
            {
                _disarmed = true;
                _source.CancelAfter(Timeout.InfiniteTimeSpan);
            }
        }

        public string Describe()
        {
            lock (_lock)
            {
                return $"stalled: {_waitingFor} for {GoDuration.Format(_limit)}";
            }
        }

        public void Dispose()
        {
            lock (_lock)
            {
                _disarmed = true;
                _source.Dispose();
            }
        }
    }

    /// <summary>Another content's headers, length and lifetime; subclasses say how its bytes move.</summary>
    private abstract class WrappedContent : HttpContent
    {
        protected WrappedContent(HttpContent inner)
        {
            Inner = inner;
            foreach (KeyValuePair<string, IEnumerable<string>> header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected HttpContent Inner { get; }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
            => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = Inner.Headers.ContentLength ?? -1;
            return length >= 0;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                Inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>The request body, re-arming the watchdog with every write the connection accepts.</summary>
    private sealed class WatchedRequestContent(HttpContent inner, Watchdog watchdog, StorageTimeouts timeouts) : WrappedContent(inner)
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            Progress();
            await Inner.CopyToAsync(new ProgressStream(stream, this), context, cancellationToken).ConfigureAwait(false);
            watchdog.Arm(timeouts.Response, "no response after the request body");
        }

        private void Progress() => watchdog.Arm(timeouts.Idle, "request body not accepted");

        /// <summary>The connection's stream as the body is written into it.</summary>
        private sealed class ProgressStream(Stream inner, WatchedRequestContent owner) : Stream
        {
            public override bool CanRead => false;
            public override bool CanSeek => false;
            public override bool CanWrite => true;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

            public override void Write(ReadOnlySpan<byte> buffer)
            {
                inner.Write(buffer);
                owner.Progress();
            }

            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
                => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
            {
                await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
                owner.Progress();
            }

            public override void Flush() => inner.Flush();
            public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
        }
    }

    /// <summary>The response body, read through a <see cref="StallGuardStream"/>.</summary>
    private sealed class GuardedResponseContent(HttpContent inner, TimeSpan idle) : WrappedContent(inner)
    {
        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken)
            => Guard(await Inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

        protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => Guard(Inner.ReadAsStream(cancellationToken));

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using Stream body = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
            await body.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }

        private StallGuardStream Guard(Stream body)
            => new(body, idle, static message => new StallException($"stalled: response body: {message}"), CancellationToken.None);
    }
}
