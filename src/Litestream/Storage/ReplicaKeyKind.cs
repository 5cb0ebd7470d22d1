namespace Litestream.Storage;

/// <summary>How the text of a backend key becomes its value (chosen by the settings property's type).</summary>
public enum ReplicaKeyKind
{
    /// <summary>Taken as written.</summary>
    String,
    /// <summary><c>true</c>/<c>false</c> (also <c>1</c>/<c>0</c>, <c>t</c>/<c>f</c>, <c>yes</c>/<c>no</c>, <c>on</c>/<c>off</c>).</summary>
    Boolean,
    /// <summary>A decimal 32-bit integer.</summary>
    Int32,
    /// <summary>A decimal 64-bit integer.</summary>
    Int64,
    /// <summary>A byte count, go-humanize style ("64MiB", "10MB", "4096").</summary>
    Size,
    /// <summary>A Go duration ("10s", "1m30s"), into a <c>TimeSpan?</c>.</summary>
    Duration,
    /// <summary>A list of strings (a YAML sequence, or one string), into an <c>IReadOnlyList&lt;string&gt;?</c>; one item a line as text.</summary>
    StringList,
}
