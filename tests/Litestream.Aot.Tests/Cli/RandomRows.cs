namespace Litestream.Aot.Tests.Cli;

/// <summary>The python3 scripts the backend end-to-end tests write and compare a database with.</summary>
internal static class RandomRows
{
    /// <summary>python3 writer: argv path, start, count; count transactions of five random rows (10 B to 9 KB) into t.</summary>
    public const string Writer = """
        import sqlite3, sys, random
        path, start, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        rnd = random.Random(start)
        c = sqlite3.connect(path, isolation_level=None)
        c.execute("PRAGMA busy_timeout=10000")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)")
        for i in range(start, start + count):
            c.execute("BEGIN")
            for j in range(5):
                c.execute("INSERT INTO t(v) VALUES (?)", (rnd.randbytes(rnd.choice([10, 300, 3000, 9000])),))
            c.execute("COMMIT")
        """;

    /// <summary>python3: prints "integrity_check rows sha256-of-rows" of t, to compare a restore with its source.</summary>
    public const string Dump = """
        import sqlite3, sys, hashlib
        c = sqlite3.connect(sys.argv[1])
        ok = c.execute("PRAGMA integrity_check").fetchone()[0]
        rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        print(ok, len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        """;
}
