namespace Litestream.Storage.Nats;

/// <summary>A NATS protocol failure: the server's <c>-ERR</c>, a closed connection, a malformed frame.</summary>
internal class NatsException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A JetStream API answer carrying an error (<c>{"error":{"code":404,"err_code":10059,...}}</c>).</summary>
internal sealed class NatsApiException(int code, int errorCode, string description)
    : NatsException($"JetStream: {description} (code {code}, err_code {errorCode})")
{
    /// <summary>JetStream's "stream not found": the bucket does not exist.</summary>
    public const int StreamNotFound = 10059;
    /// <summary>JetStream's "no message found".</summary>
    public const int NoMessageFound = 10037;

    public int Code { get; } = code;
    public int ErrorCode { get; } = errorCode;
}

/// <summary>Nobody subscribes to the subject (the server's 503 status): JetStream is off for this account.</summary>
internal sealed class NatsNoRespondersException() : NatsException("no responders");

/// <summary>The object is not in the bucket (or only its delete marker is).</summary>
internal sealed class NatsObjectNotFoundException(string name) : NatsException($"object not found: {name}");
