using Litestream.Testing;

namespace Litestream.Hosting.Tests.Fixtures;

/// <summary>A fact that skips when s3rver is not installed (bash .ci/install.sh, or $S3RVER).</summary>
public sealed class S3FactAttribute : FactAttribute
{
    public S3FactAttribute()
    {
        if (S3rver.ScriptPath is null)
        {
            Skip = S3rver.MissingReason;
        }
    }
}
