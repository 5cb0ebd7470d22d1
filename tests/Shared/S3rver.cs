namespace Litestream.Testing;

/// <summary>
/// A local s3rver (npm s3rver@3.7.1, installed into .tools/ by .ci/install.sh) on a free loopback port
/// with a temporary data directory and the bucket <see cref="Bucket"/>. Tests that start it declare
/// <see cref="Need.S3rver"/>.
/// </summary>
public sealed class S3rver : LocalServer
{
    /// <summary>The bucket s3rver creates at start.</summary>
    public const string Bucket = "bkt";
    /// <summary>s3rver's fixed credentials (both the key id and the secret).</summary>
    public const string Credential = "S3RVER";

    /// <summary>Starts s3rver and waits until it accepts connections.</summary>
    public S3rver()
        : base("s3rver", "node", static (dir, port) => [ScriptPath ?? throw new InvalidOperationException(Prerequisites.Of(Need.S3rver).Reason), "-d", dir, "-a", "127.0.0.1", "-p", port.ToString(), "--configure-bucket", Bucket],
            // Without the legacy provider s3rver's paged listings fail with 500 on current Node (INFRA.md "S3").
            new Dictionary<string, string> { ["NODE_OPTIONS"] = "--openssl-legacy-provider" })
    {
    }

    /// <summary>Path of s3rver's bin script: $S3RVER, else &lt;repo&gt;/.tools/node_modules/.bin/s3rver; null when absent.</summary>
    public static string? ScriptPath { get; } = FindTool("S3RVER", "s3rver");


    /// <summary>The endpoint URL, e.g. http://127.0.0.1:34567.</summary>
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>A replica URL for the published exe.</summary>
    public string Url(string path) => $"s3://{Bucket}/{path}?endpoint={Endpoint}&forcePathStyle=true&region=us-east-1";

    /// <summary>A litestream.yml with one database replicated to <paramref name="path"/> in the bucket through <paramref name="endpoint"/>.</summary>
    public static string Config(string db, string path, string endpoint, string keyId, string secret) => $"""
        dbs:
          - path: {db}
            replicas:
              - type: s3
                bucket: {Bucket}
                path: {path}
                endpoint: {endpoint}
                region: us-east-1
                force-path-style: true
                access-key-id: {keyId}
                secret-access-key: {secret}

        """;
}
