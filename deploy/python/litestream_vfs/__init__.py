"""Litestream read-replica VFS for SQLite, as a loadable extension (Litestream.Aot's NativeAOT build).

The same API as upstream's ``litestream-vfs`` package::

    import sqlite3, litestream_vfs
    litestream_vfs.load(sqlite3.connect(":memory:"))   # registers the "litestream" VFS for the whole process
    db = sqlite3.connect("file:app.db?vfs=litestream&replica=s3://bucket/app", uri=True)
"""

import os
import sqlite3
import sys

# The wheel carries one shared library, built for the wheel's platform tag.
_LIBRARY = "litestream-vfs.so"


def loadable_path():
    """Return the filesystem path of the packaged extension (for other SQLite bindings, or ``.load`` in sqlite3)."""
    if not sys.platform.startswith("linux"):
        raise OSError("litestream-vfs is built for Linux only, not %s" % sys.platform)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), _LIBRARY)
    if not os.path.exists(path):
        raise FileNotFoundError("VFS extension not found at %s" % path)
    return path


def load(conn):
    """Load the extension into the sqlite3 connection ``conn``.

    Loading registers the ``litestream`` VFS with the process's SQLite, so every later connection can open a
    replica with ``vfs=litestream``; extension loading is turned on only for the call and off again after it.
    """
    if not hasattr(conn, "enable_load_extension"):
        # CPython built without --enable-loadable-sqlite-extensions (pyenv's default) has no such method.
        raise sqlite3.NotSupportedError(
            "this Python's sqlite3 module cannot load extensions (built without "
            "--enable-loadable-sqlite-extensions); use a distribution's python3 or rebuild Python with it")
    path = loadable_path()
    conn.enable_load_extension(True)
    try:
        conn.load_extension(path)
    finally:
        conn.enable_load_extension(False)
