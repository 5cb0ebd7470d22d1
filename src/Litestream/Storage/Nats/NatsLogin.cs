using System.Text;
using System.Text.Json;

namespace Litestream.Storage.Nats;

/// <summary>
/// The credentials of one login, as CONNECT fields (docs.nats.io "Client Protocol", CONNECT): user + pass,
/// auth_token, nkey + sig, or jwt + sig, where sig is the server's nonce signed with the user's Ed25519 seed.
/// A creds file (nsc's format) holds the JWT and the seed; an nkey file holds the seed.
/// </summary>
internal sealed record NatsLogin
{
    public string? User { get; init; }
    public string? Password { get; init; }
    public string? Token { get; init; }
    public string? Jwt { get; init; }
    /// <summary>The user's seed (SU…): with <see cref="Jwt"/> it signs for the JWT, alone it is an nkey login.</summary>
    public string? Seed { get; init; }
    public string? CredsFile { get; init; }
    public string? NkeyFile { get; init; }

    /// <summary>No credentials.</summary>
    public static NatsLogin None { get; } = new();

    /// <summary>Writes the credential fields of CONNECT.</summary>
    /// <exception cref="NatsException">A creds or nkey file cannot be read or holds no seed, or the server sent no nonce to sign.</exception>
    public void Write(Utf8JsonWriter json, string? nonce)
    {
        (string? jwt, string? seed) = (Jwt, Seed);
        if (CredsFile is { } creds)
        {
            string text = ReadFile(creds, "creds");
            jwt = Block(text, "NATS USER JWT") ?? throw new NatsException($"creds file {creds} holds no user JWT");
            seed = Block(text, "USER NKEY SEED") ?? throw new NatsException($"creds file {creds} holds no user seed");
        }
        else if (NkeyFile is { } file)
        {
            seed = ReadFile(file, "nkey").Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("SU", StringComparison.Ordinal))
                ?? throw new NatsException($"nkey file {file} holds no user seed (SU…)");
        }
        if (seed is not null)
        {
            NatsUserSeed pair;
            try
            {
                pair = NatsUserSeed.Parse(seed);
            }
            catch (FormatException e)
            {
                throw new NatsException($"the user seed is not valid: {e.Message}");
            }
            if (jwt is not null)
            {
                json.WriteString("jwt", jwt);
            }
            else
            {
                json.WriteString("nkey", pair.PublicKey());
            }
            byte[] signature = pair.Sign(Encoding.UTF8.GetBytes(nonce ?? throw new NatsException("the server sent no nonce to sign (is nkey or JWT login enabled on it?)")));
            json.WriteString("sig", Convert.ToBase64String(signature).TrimEnd('=').Replace('+', '-').Replace('/', '_'));
        }
        else if (User is not null)
        {
            json.WriteString("user", User);
            json.WriteString("pass", Password ?? "");
        }
        else if (Token is not null)
        {
            json.WriteString("auth_token", Token);
        }
    }

    /// <summary>The first non-empty line after the <c>-----BEGIN <paramref name="label"/>-----</c> line.</summary>
    private static string? Block(string text, string label)
    {
        string[] lines = text.Split('\n');
        int begin = Array.FindIndex(lines, l => l.Contains("BEGIN " + label, StringComparison.Ordinal));
        return begin < 0 ? null : lines.Skip(begin + 1).Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0 && !l.StartsWith("--", StringComparison.Ordinal));
    }

    private static string ReadFile(string path, string what)
    {
        try
        {
            return System.IO.File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NatsException($"{what} file {path}: cannot read it: {e.Message}");
        }
    }
}
