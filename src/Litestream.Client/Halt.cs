namespace Litestream.Client;

/// <summary>
/// A halt the daemon granted (<see cref="LitestreamClient.HaltAsync"/>): it holds <see cref="Path"/>'s write lock, every
/// replica holds <see cref="Txid"/>, and the halt is released at <see cref="ExpiresAt"/> unless unhalted first.
/// </summary>
public sealed record Halt(string Path, string Id, ulong Txid, DateTimeOffset ExpiresAt);
