using Litestream.Aot.Config;
using Litestream.Ltx;
using SharpFuzz;

namespace Litestream.Fuzz;

/// <summary>
/// afl++ targets (SharpFuzz): <c>ltx</c> decodes the input as an LTX file, <c>config</c> loads it as a
/// litestream.yml through the public loader. The only acceptable failure is the documented one
/// (<see cref="LtxFormatException"/>, <see cref="ConfigException"/>); anything else escapes and afl records
/// the input as a crash. <c>--replay FILE...</c> runs saved inputs without afl (triage of findings).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("ltx" or "config"))
        {
            Console.Error.WriteLine("usage: Litestream.Fuzz ltx|config [--replay FILE...]");
            return 2;
        }
        Action<Stream> target = args[0] == "ltx" ? DecodeLtx : LoadConfig;
        if (args.Length > 1 && args[1] == "--replay")
        {
            foreach (string file in args.Skip(2))
            {
                using FileStream input = File.OpenRead(file);
                target(input);
                Console.WriteLine($"{file}: ok");
            }
            return 0;
        }
        Fuzzer.OutOfProcess.Run(target);
        return 0;
    }

    /// <summary>Header, every page, trailer: the whole decoder and its checksums.</summary>
    public static void DecodeLtx(Stream input)
    {
        try
        {
            using var decoder = new LtxDecoder(input);
            LtxHeader header = decoder.DecodeHeader();
            var page = new byte[header.PageSize];
            while (decoder.TryDecodePage(page, out _))
            {
            }
            decoder.Close();
        }
        catch (LtxFormatException)
        {
        }
    }

    /// <summary>The same entry point <c>-config</c> uses, environment expansion on.</summary>
    public static void LoadConfig(Stream input)
    {
        string text = new StreamReader(input).ReadToEnd();
        try
        {
            ConfigLoader.Parse(text, "/cfg");
        }
        catch (ConfigException)
        {
        }
    }
}
