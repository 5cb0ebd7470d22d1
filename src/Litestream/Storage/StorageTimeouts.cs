
namespace Litestream.Storage;

/// <summary>
/// How long a request to network storage may make no progress before it fails as stalled: a server that
/// accepts and then stops sending, or a middlebox that black-holes a connection, must end in an error naming
/// the object, never in a silent hang. Each limit is on silence, not on total time, so a slow link that keeps
/// moving bytes never times out. Upstream sets only a 30 s dial timeout; a stalled server hangs it.
/// </summary>
public sealed record StorageTimeouts
{
    /// <summary>Default <see cref="Connect"/>: 10 s.</summary>
    public static readonly TimeSpan DefaultConnect = TimeSpan.FromSeconds(10);

    /// <summary>Default <see cref="Response"/>: 60 s.</summary>
    public static readonly TimeSpan DefaultResponse = TimeSpan.FromSeconds(60);

    /// <summary>Default <see cref="Idle"/>: 60 s.</summary>
    public static readonly TimeSpan DefaultIdle = TimeSpan.FromSeconds(60);

    /// <summary>Environment variable overriding <see cref="Connect"/> (a Go duration: <c>10s</c>).</summary>
    public const string ConnectVariable = "LITESTREAM_STORAGE_CONNECT_TIMEOUT";

    /// <summary>Environment variable overriding <see cref="Response"/>.</summary>
    public const string ResponseVariable = "LITESTREAM_STORAGE_RESPONSE_TIMEOUT";

    /// <summary>Environment variable overriding <see cref="Idle"/>.</summary>
    public const string IdleVariable = "LITESTREAM_STORAGE_IDLE_TIMEOUT";

    /// <summary>Longest TCP connect plus TLS handshake.</summary>
    public TimeSpan Connect { get; init; } = DefaultConnect;

    /// <summary>
    /// Longest wait for a response's headers (time to first byte): from sending the request, or from the end of
    /// its body. Getting a connection happens inside it, with <see cref="Connect"/> as its own (shorter) limit.
    /// </summary>
    public TimeSpan Response { get; init; } = DefaultResponse;

    /// <summary>Longest time an upload's body may send no byte, or a download's body receive none.</summary>
    public TimeSpan Idle { get; init; } = DefaultIdle;

    /// <summary>
    /// The defaults with any of <see cref="ConnectVariable"/>, <see cref="ResponseVariable"/> and
    /// <see cref="IdleVariable"/> applied (the CLI and the VFS extension are configured this way).
    /// </summary>
    /// <exception cref="ArgumentException">A variable is set but is not a positive Go duration.</exception>
    public static StorageTimeouts FromEnvironment() => new()
    {
        Connect = Read(ConnectVariable, DefaultConnect),
        Response = Read(ResponseVariable, DefaultResponse),
        Idle = Read(IdleVariable, DefaultIdle),
    };

    private static TimeSpan Read(string variable, TimeSpan fallback)
    {
        string? text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }
        return !text.StartsWith('-') && GoDuration.TryParse(text.Trim(), out TimeSpan value) && value > TimeSpan.Zero
            ? value
            : throw new ArgumentException($"{variable}: invalid duration \"{text}\" (e.g. 30s, 2m)");
    }
}
