using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary><c>litestream version [-verbose]</c>.</summary>
internal static class VersionCommand
{
    public static string Version => "v" + (typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0") + "-aot";

    public static Command Build()
    {
        Option<bool> verbose = CommonOptions.Create<bool>("verbose", "print build details");
        var command = new Command("version", "print the version") { verbose };
        command.SetAction(result =>
        {
            string arch = RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
            Console.WriteLine($"{Version} (sqlite {SQLitePCL.raw.sqlite3_libversion().utf8_to_string()}, linux-{arch})");
            if (result.GetValue(verbose))
            {
                Console.WriteLine($"runtime: {RuntimeInformation.FrameworkDescription}, NativeAOT");
                Console.WriteLine($"os: {RuntimeInformation.OSDescription}");
                Console.WriteLine($"backends: {string.Join(", ", ReplicaClientFactory.Names)}");
            }
            return 0;
        });
        return command;
    }
}
