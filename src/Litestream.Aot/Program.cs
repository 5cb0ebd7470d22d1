namespace Litestream.Aot;

internal static class Program
{
    private static int Main(string[] args)
    {
        SQLitePCL.raw.SetProvider(new SQLitePCL.SQLite3Provider_e_sqlite3());
        Console.WriteLine($"litestream v0.5.16-aot (sqlite {SQLitePCL.raw.sqlite3_libversion().utf8_to_string()})");
        return 0;
    }
}
