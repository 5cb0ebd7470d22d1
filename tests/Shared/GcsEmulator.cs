namespace Litestream.Testing;

/// <summary>
/// A local Google Cloud Storage JSON API: the Cloud Storage emulator of Firebase's CLI (npm firebase-tools, installed
/// into .tools/firebase/ by .ci/install.sh), served by gcs_emulator.js on a free loopback port. Clients reach it as Google's
/// SDKs do, through <c>STORAGE_EMULATOR_HOST</c> and without credentials. Buckets come into being with their first
/// object. It has no generation preconditions (ifGenerationMatch) and no rewrite under /storage/v1 (it answers 501).
/// Tests that start it declare <see cref="Need.GcsEmulator"/>.
/// </summary>
public sealed class GcsEmulator : LocalServer
{
    /// <summary>Starts the emulator and waits until it accepts connections.</summary>
    public GcsEmulator()
        : base("gcs", "node", static (dir, port) => [Script, FirebaseTools ?? throw new InvalidOperationException(Prerequisites.Of(Need.GcsEmulator).Reason), port.ToString(), dir])
    {
    }

    /// <summary>The firebase-tools package directory: $FIREBASE_TOOLS, else .tools/firebase/node_modules/firebase-tools; null when absent.</summary>
    public static string? FirebaseTools { get; } = Environment.GetEnvironmentVariable("FIREBASE_TOOLS") is { Length: > 0 } configured
        ? (File.Exists(System.IO.Path.Combine(configured, "package.json")) ? configured : null)
        : TestRepo.ExistingFile(".tools", "firebase", "node_modules", "firebase-tools", "package.json") is { } package ? System.IO.Path.GetDirectoryName(package) : null;

    /// <summary>gcs_emulator.js, copied beside the test assembly.</summary>
    public static string Script => System.IO.Path.Combine(AppContext.BaseDirectory, "gcs_emulator.js");

    /// <summary><c>STORAGE_EMULATOR_HOST</c> for this emulator.</summary>
    public string Host => $"127.0.0.1:{Port}";
}
