using System.Reflection;
using System.Runtime.InteropServices;

namespace Litestream.Aot;

/// <summary>What this binary is: its version, commit and RID (<c>litestream version</c>, the control socket's <c>/info</c>, logs).</summary>
internal static class BuildInfo
{
    private static readonly string s_informational =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Our version in upstream's spelling plus "-aot", e.g. <c>v0.5.16-aot</c>.</summary>
    public static string Version { get; } = "v" + s_informational.Split('+')[0] + "-aot";

    /// <summary>The git commit the binary was built from (the SDK appends it to the informational version), or null.</summary>
    public static string? Commit { get; } = s_informational.Split('+') is [_, string commit, ..] ? commit : null;

    /// <summary>The RID the binary runs as (linux-x64, linux-arm64).</summary>
    public static string Rid => "linux-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

    /// <summary>The one-line answer of <c>litestream version</c>.</summary>
    public static string Line => $"{Version} (sqlite {SQLitePCL.raw.sqlite3_libversion().utf8_to_string()}, {Rid})";
}
