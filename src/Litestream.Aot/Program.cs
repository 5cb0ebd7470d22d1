namespace Litestream.Aot;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("error: the litestream CLI is not built yet");
        return 1;
    }
}
