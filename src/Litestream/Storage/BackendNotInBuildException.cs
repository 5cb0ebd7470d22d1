namespace Litestream.Storage;

/// <summary>
/// A replica names a backend that exists but that this build was published without (<c>publish.sh --backends</c>
/// keeps only the listed ones, so the trimmer drops the others' clients and SDKs).
/// </summary>
public sealed class BackendNotInBuildException : NotSupportedException
{
    /// <summary>Creates the exception for backend <paramref name="type"/>; <paramref name="available"/> are this build's backends.</summary>
    public BackendNotInBuildException(string type, IReadOnlyList<string> available)
        : base($"this build has no \"{type}\" backend (built with: {string.Join(", ", available)})")
    {
        ArgumentNullException.ThrowIfNull(available);
        Type = type;
        Available = available;
    }

    /// <summary>The backend asked for.</summary>
    public string Type { get; }

    /// <summary>The backends this build has.</summary>
    public IReadOnlyList<string> Available { get; }

    /// <summary>What to do, for the user (one line).</summary>
    public string Hint => $"use a litestream binary built with every backend (./publish.sh without --backends), or one built with --backends {string.Join(",", Available.Append(Type))}";
}
