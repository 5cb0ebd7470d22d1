using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Runtime.InteropServices;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary><c>litestream version [-verbose]</c>: <c>v0.5.16-aot (sqlite 3.54.1, linux-x64)</c>.</summary>
internal static class VersionCommand
{
    private static readonly string s_informational =
        typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Our version in upstream's spelling plus "-aot", e.g. <c>v0.5.16-aot</c>.</summary>
    public static string Version { get; } = "v" + s_informational.Split('+')[0] + "-aot";

    /// <summary>The git commit the binary was built from (the SDK appends it to the informational version), or null.</summary>
    public static string? Commit { get; } = s_informational.Split('+') is [_, string commit, ..] ? commit : null;

    /// <summary>The RID the binary runs as (linux-x64, linux-arm64).</summary>
    public static string Rid => "linux-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();

    /// <summary>The one-line answer of <c>litestream version</c>.</summary>
    public static string Line => $"{Version} (sqlite {SQLitePCL.raw.sqlite3_libversion().utf8_to_string()}, {Rid})";

    public static Command Build()
    {
        Option<bool> verbose = CommonOptions.Create<bool>("verbose", "also print the commit, runtime, SQLite build and replica backends");
        var command = new DocumentedCommand("version", "print the version",
            "Prints the version of this build, the SQLite it links and the platform. With -verbose it adds the commit, "
            + "the runtime, SQLite's compile options, the storage backends built in, the garbage collector's settings and "
            + "the CRC-64 kernel in use.",
            new("print the version", "litestream version"),
            new("print everything a bug report needs", "litestream version -verbose"))
        {
            verbose,
        };
        command.SetAction(result =>
        {
            Console.WriteLine(Line);
            if (result.GetValue(verbose))
            {
                PrintDetails();
            }
            return 0;
        });
        return command;
    }

    private static void PrintDetails()
    {
        Console.WriteLine($"commit: {Commit ?? "unknown"}");
        Console.WriteLine($"runtime: {RuntimeInformation.FrameworkDescription}, NativeAOT, {RuntimeInformation.OSDescription}");
        Console.WriteLine($"sqlite: {SQLitePCL.raw.sqlite3_libversion().utf8_to_string()} (linked statically, source {SQLitePCL.raw.sqlite3_sourceid().utf8_to_string()})");
        var options = new List<string>();
        for (int i = 0; SQLitePCL.raw.sqlite3_compileoption_get(i).utf8_to_string() is { } option; i++)
        {
            options.Add(option);
        }
        Console.WriteLine($"sqlite options: {string.Join(' ', options)}");
        Console.WriteLine($"backends: {string.Join(", ", ReplicaClientFactory.Names)}");
        Console.WriteLine($"gc: {MemoryBudget.Describe()}");
        Console.WriteLine($"crc64: {Litestream.Ltx.Checksums.Crc64Iso.Kernel}");
    }

    /// <summary>The action of the root's <c>--version</c> / <c>-version</c> option: the same line as the command.</summary>
    internal sealed class PrintAction : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            Console.WriteLine(Line);
            return 0;
        }
    }
}
