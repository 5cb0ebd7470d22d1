using System.CommandLine;
using System.CommandLine.Invocation;
using System.Runtime.InteropServices;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary><c>litestream version [-verbose]</c>: <c>v0.5.16-aot (sqlite 3.54.1, linux-x64)</c>.</summary>
internal static class VersionCommand
{
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
            Console.WriteLine(BuildInfo.Line);
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
        Console.WriteLine($"commit: {BuildInfo.Commit ?? "unknown"}");
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
            Console.WriteLine(BuildInfo.Line);
            return 0;
        }
    }
}
