using System.Text;
using System.Text.Json;

namespace Litestream.Client;

/// <summary>
/// The daemon's event stream (<c>GET /events</c>, newline-delimited JSON; litefs-go's <c>EventSubscription</c>),
/// read one event at a time with <see cref="NextAsync"/> or <c>await foreach</c>. The stream ending (the daemon
/// stopped, or dropped this subscriber for not reading) is a <see cref="LitestreamClientException"/>: a watcher
/// must not mistake it for quiet. Dispose to unsubscribe.
/// </summary>
public sealed class EventSubscription : IAsyncEnumerable<LitestreamEvent>, IAsyncDisposable, IDisposable
{
    // The daemon's lines are a few hundred bytes; a longer one is not the daemon's.
    private const int MaxLine = 64 * 1024;

    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;
    private readonly string _endpoint;

    internal EventSubscription(HttpResponseMessage response, Stream stream, string endpoint)
    {
        _response = response;
        _reader = new StreamReader(stream, Encoding.UTF8);
        _endpoint = endpoint;
    }

    /// <summary>The next event, waiting for it.</summary>
    /// <exception cref="LitestreamClientException">The stream ended or broke, or a line is not an event.</exception>
    public async ValueTask<LitestreamEvent> NextAsync(CancellationToken cancellationToken = default)
    {
        string? line;
        try
        {
            line = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException && !cancellationToken.IsCancellationRequested)
        {
            throw new LitestreamClientException(0, $"the event stream from {_endpoint} broke: {e.Message}", e);
        }
        if (line is null)
        {
            throw new LitestreamClientException(0, $"the daemon at {_endpoint} ended the event stream (it stopped, or dropped this subscriber)");
        }
        if (line.Length > MaxLine)
        {
            throw new LitestreamClientException(0, $"not an event from {_endpoint}: a line of {line.Length} bytes");
        }
        try
        {
            return JsonSerializer.Deserialize(line, ClientJsonContext.Default.LitestreamEvent) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new LitestreamClientException(0, $"not an event from {_endpoint}: {line}", e);
        }
    }

    /// <summary>Every event as it comes, until cancelled (the stream ending throws, see <see cref="NextAsync"/>).</summary>
    public async IAsyncEnumerator<LitestreamEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            yield return await NextAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Closes the stream: the daemon forgets the subscriber.</summary>
    public void Dispose()
    {
        _reader.Dispose();
        _response.Dispose();
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
