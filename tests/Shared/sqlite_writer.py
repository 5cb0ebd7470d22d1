"""The SQLite application the tests replicate: a real writer process (python3's sqlite3), and the checks run on
what it wrote and what a restore produced. One place for every test (tests/Shared/SqliteWriter.cs builds the
command lines); nothing here knows about Litestream.

  write DB [knobs]          commit rows into t(id INTEGER PRIMARY KEY, v) until --commits, --seconds or --stop
  workload NAME DB [knobs]  the same loop over a purpose-built schema: levels, transfers, ticks
  dump DB [--readonly]      "<integrity_check> <rows> <sha256 of every (id, v) in id order>"
  check DB [LOG]            "<integrity_check> <top id> <gaps> <lost> <logged>": ids missing below the top (and, with
                            --recent N, payload rows missing among the newest N), ids LOG says were committed but
                            are not there, and how many LOG holds
  scalar DB SQL             the first column of the first row

Readers that must hash rows the same way import it: `from sqlite_writer import digest`.

The last line `write` and `workload` print is "<commits> <busy errors> <slowest commit in seconds>"; a --checkpoint
prints "checkpoint <mode> <busy> <log frames> <checkpointed frames>" when it ran.
"""
import argparse, hashlib, os, random, sqlite3, sys, time


def weighted(spec):
    """'10:24,100,5000:2' -> [10]*24 + [100] + [5000]*2: a list to random.choice from."""
    out = []
    for part in spec.split(","):
        value, _, weight = part.partition(":")
        out += [int(value)] * int(weight or 1)
    return out


def connect(a):
    c = sqlite3.connect(a.db, isolation_level=None, timeout=a.busy_timeout / 1000)
    c.execute("PRAGMA busy_timeout=%d" % a.busy_timeout)
    if a.page_size:
        c.execute("PRAGMA page_size=%d" % a.page_size)
    c.execute("PRAGMA journal_mode=WAL")
    if a.abandon:
        c.execute("PRAGMA wal_autocheckpoint=0")
    if a.synchronous:
        c.execute("PRAGMA synchronous=%s" % a.synchronous)
    return c


def checkpoint(a, mode):
    # Another connection, as another process of the application would: it waits only briefly for readers.
    k = sqlite3.connect(a.db, isolation_level=None)
    k.execute("PRAGMA busy_timeout=200")
    print("checkpoint", mode, *k.execute("PRAGMA wal_checkpoint(%s)" % mode).fetchone())  # busy, log frames, checkpointed
    k.close()


class Loop:
    """Counts commits until --commits, --seconds or --stop; pauses after them; logs; keeps busy statistics."""

    def __init__(self, a):
        self.a, self.n, self.busy, self.slowest = a, 0, 0, 0.0
        self.end = time.time() + a.seconds if a.seconds else None
        self.log = open(a.log, "a", buffering=1) if a.log else None

    def running(self):
        a = self.a
        if a.commits and self.n >= a.commits:
            return False
        if self.end is not None and time.time() >= self.end:
            return False
        if a.stop and os.path.exists(a.stop):
            return False
        return bool(a.commits or self.end is not None or a.stop)

    def commit(self, c, work):
        """Runs work(c) as one transaction (or one statement); returns its log line, or None when it was busy."""
        began = time.time()
        try:
            line = work(c)
        except sqlite3.OperationalError as e:
            if not self.a.tolerate_busy:
                raise
            if c.in_transaction:
                c.execute("ROLLBACK")
            self.busy += 1
            print("error:", e, file=sys.stderr)
            line = None
        self.slowest = max(self.slowest, time.time() - began)
        if line is not None:
            self.n += 1
            if self.log:
                self.log.write(line + "\n")  # written only after the commit returned
        if self.a.pause and self.n % self.a.pause_every == 0:
            time.sleep(self.a.pause)
        return line

    def summary(self):
        print(self.n, self.busy, "%.3f" % self.slowest)
        if self.a.abandon:
            sys.stdout.flush()
            os._exit(0)  # no close: what a killed writer leaves behind


def write(a):
    c = connect(a)
    c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v %s)" % ("BLOB" if a.sizes else "TEXT"))
    if a.ledger:
        c.execute("CREATE TABLE IF NOT EXISTS ids(id INTEGER PRIMARY KEY)")
    rnd = random.Random(a.seed if a.seed is not None else a.start)
    batches, sizes = weighted(a.batch), weighted(a.sizes) if a.sizes else None
    loop, i = Loop(a), a.start

    def value(i):
        if sizes:
            return rnd.randbytes(rnd.choice(sizes))
        return "row%d-" % i + "x" * (i % a.pad) if a.pad else "row%d" % i

    def transaction(c):
        nonlocal i
        rows = rnd.choice(batches)
        prune = a.prune and (loop.n + 1) % a.prune_every == 0
        explicit = rows > 1 or a.ledger or prune
        if explicit:
            c.execute("BEGIN")
        for _ in range(rows):
            last = c.execute("INSERT INTO t(v) VALUES (?)", (value(i),)).lastrowid
            if a.ledger:
                c.execute("INSERT INTO ids(id) VALUES (?)", (last,))
            i += 1
        if prune:
            c.execute("DELETE FROM t WHERE " + a.prune.format(id=last))
        if explicit:
            c.execute("COMMIT")
        return "%d" % last

    while loop.running():
        loop.commit(c, transaction)
        if a.checkpoint and loop.n == a.checkpoint_after:
            checkpoint(a, a.checkpoint)
        if a.delete and loop.n == a.delete_after:
            delete(c, a)
    if a.delete and a.delete_after == 0:
        delete(c, a)
    if a.checkpoint and a.checkpoint_after == 0:
        checkpoint(a, a.checkpoint)
    loop.summary()


def delete(c, a):
    c.execute("DELETE FROM t WHERE " + a.delete)
    if a.vacuum:
        c.execute("VACUUM")


def levels(a):
    """Updates random rows of t (300 rows) and meta.seq; logs '<seq> <time taken before COMMIT> <dump's sha256>' after each commit."""
    c = connect(a)
    rnd = random.Random(7)
    if not c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]:
        c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        c.execute("CREATE TABLE meta(seq INTEGER)")
        c.execute("BEGIN")
        for i in range(300):
            c.execute("INSERT INTO t VALUES (?, ?)", (i, rnd.randbytes(300)))
        c.execute("INSERT INTO meta VALUES (0)")
        c.execute("COMMIT")
    loop, seq = Loop(a), c.execute("SELECT seq FROM meta").fetchone()[0]
    if loop.log and seq == 0:
        loop.log.write("0 %.6f %s\n" % (time.time(), digest(c)[1]))

    def transaction(c):
        nonlocal seq
        c.execute("BEGIN IMMEDIATE")
        for _ in range(rnd.randint(1, 6)):
            c.execute("UPDATE t SET v = ? WHERE id = ?", (rnd.randbytes(rnd.choice([100, 300, 1200])), rnd.randrange(300)))
        c.execute("UPDATE meta SET seq = ?", (seq + 1,))
        before = time.time()  # taken before COMMIT: no replica file can hold this state from an earlier time
        c.execute("COMMIT")
        seq += 1
        return "%d %.6f %s" % (seq, before, digest(c)[1])

    while loop.running():
        loop.commit(c, transaction)
    loop.summary()


def transfers(a):
    """Moves money between two accounts whose sum is always 1000, each move rewriting both rows' 3000-byte pads."""
    c = connect(a)
    if not c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'acct'").fetchone()[0]:
        c.execute("CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INT, pad BLOB)")
        c.execute("INSERT INTO acct VALUES (1, 500, randomblob(3000))")
        for i in range(2, 60):
            c.execute("INSERT INTO acct VALUES (?, 0, randomblob(3000))", (i,))
        c.execute("INSERT INTO acct VALUES (1000, 500, randomblob(3000))")
    rnd, loop = random.Random(3), Loop(a)

    def transaction(c):
        x = rnd.randint(-50, 50)
        c.execute("BEGIN IMMEDIATE")
        c.execute("UPDATE acct SET bal = bal + ?, pad = randomblob(3000) WHERE id = 1", (x,))
        c.execute("UPDATE acct SET bal = bal - ?, pad = randomblob(3000) WHERE id = 1000", (x,))
        c.execute("COMMIT")
        return "%d" % x

    while loop.running():
        loop.commit(c, transaction)
    loop.summary()


def ticks(a):
    """One commit every --pause seconds (slept before it): s.k = n and a history row; logs '<n> <time ms after COMMIT>'."""
    c = connect(a)
    if not c.execute("SELECT count(*) FROM sqlite_master WHERE name = 's'").fetchone()[0]:
        c.execute("CREATE TABLE s(k INT)")
        c.execute("INSERT INTO s VALUES (0)")
        c.execute("CREATE TABLE h(k INT, pad BLOB)")
    pause, a.pause = a.pause, 0
    loop, k = Loop(a), c.execute("SELECT k FROM s").fetchone()[0]

    def transaction(c):
        nonlocal k
        time.sleep(pause)
        c.execute("BEGIN IMMEDIATE")
        c.execute("UPDATE s SET k = ?", (k + 1,))
        c.execute("INSERT INTO h VALUES (?, randomblob(2000))", (k + 1,))
        c.execute("COMMIT")
        k += 1
        return "%d %d" % (k, int(time.time() * 1000))

    while loop.running():
        loop.commit(c, transaction)
    loop.summary()


def digest(c):
    """Row count and SHA-256 of every (id, v) of t in id order: what dump prints and levels logs."""
    rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
    return len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()


def dump(a):
    c = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True) if a.readonly else sqlite3.connect(a.db)
    print(c.execute("PRAGMA integrity_check").fetchone()[0], *digest(c))


def check(a):
    c = sqlite3.connect(a.db)
    ok = c.execute("PRAGMA integrity_check").fetchone()[0]
    ledger = c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'ids'").fetchone()[0]
    ids = set(r[0] for r in c.execute("SELECT id FROM %s" % ("ids" if ledger else "t")))
    payloads = set(r[0] for r in c.execute("SELECT id FROM t"))
    top = max(ids) if ids else 0
    gaps = len([i for i in range(1, top + 1) if i not in ids])
    gaps += len([i for i in ids if i > top - a.recent and i not in payloads]) if a.recent else 0
    committed = [int(l) for l in open(a.log).read().split()] if a.log else []
    lost = len([i for i in committed if i not in ids])
    print(ok, max([top] + committed), gaps, lost, len(committed))


def scalar(a):
    print(sqlite3.connect(a.db).execute(a.sql).fetchone()[0])


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("write", "workload"):
        w = sub.add_parser(name)
        if name == "workload":
            w.add_argument("name", choices=["levels", "transfers", "ticks"])
        w.add_argument("db")
        w.add_argument("--commits", type=int, default=0, help="stop after this many commits")
        w.add_argument("--seconds", type=float, default=0, help="stop after this long")
        w.add_argument("--stop", help="stop once this file exists")
        w.add_argument("--start", type=int, default=0, help="number of the first row (values, and the seed by default)")
        w.add_argument("--batch", default="1", help="rows per transaction: weighted choices, e.g. 1:49,5")
        w.add_argument("--pad", type=int, default=0, help="text values 'row<i>-' + 'x' * (i %% pad)")
        w.add_argument("--sizes", help="blob values of random bytes, sizes as weighted choices")
        w.add_argument("--seed", type=int)
        w.add_argument("--pause", type=float, default=0, help="seconds to sleep after commits")
        w.add_argument("--pause-every", type=int, default=1)
        w.add_argument("--busy-timeout", type=int, default=5000, help="milliseconds")
        w.add_argument("--synchronous", choices=["off", "normal", "full", "extra"])
        w.add_argument("--page-size", type=int)
        w.add_argument("--log", help="append each commit's line (the last row id) after it returned")
        w.add_argument("--ledger", action="store_true", help="also record every id in ids(id), which pruning leaves alone")
        w.add_argument("--prune", help="DELETE FROM t WHERE this ({id}: the newest id) in every --prune-every'th transaction")
        w.add_argument("--prune-every", type=int, default=1)
        w.add_argument("--delete", help="DELETE FROM t WHERE this once, after --delete-after commits (0: at the end)")
        w.add_argument("--delete-after", type=int, default=0)
        w.add_argument("--vacuum", action="store_true", help="VACUUM after --delete")
        w.add_argument("--checkpoint", choices=["PASSIVE", "FULL", "RESTART", "TRUNCATE"], help="checkpoint once from another connection")
        w.add_argument("--checkpoint-after", type=int, default=0, help="after this many commits (0: at the end)")
        w.add_argument("--abandon", action="store_true", help="exit without closing (and no automatic checkpoint): the -wal and -shm stay")
        w.add_argument("--tolerate-busy", action="store_true", help="count a busy commit and go on instead of failing")
    d = sub.add_parser("dump")
    d.add_argument("db")
    d.add_argument("--readonly", action="store_true", help="open read-only (a database another process is writing)")
    k = sub.add_parser("check")
    k.add_argument("db")
    k.add_argument("log", nargs="?")
    k.add_argument("--recent", type=int, default=0)
    s = sub.add_parser("scalar")
    s.add_argument("db")
    s.add_argument("sql")
    a = p.parse_args()
    if a.command == "workload":
        {"levels": levels, "transfers": transfers, "ticks": ticks}[a.name](a)
    else:
        {"write": write, "dump": dump, "check": check, "scalar": scalar}[a.command](a)


if __name__ == "__main__":
    main()
