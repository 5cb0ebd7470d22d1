#!/usr/bin/env python3
"""Writes the litestream-vfs wheel (PEP 427) with the standard library only: deploy/python/build.sh calls it.

The wheel holds litestream_vfs/__init__.py, the extension at litestream_vfs/litestream-vfs.so and the
.dist-info (METADATA, WHEEL, licenses/LICENSE, RECORD). Entries are sorted and dated SOURCE_DATE_EPOCH, so the
same inputs give the same bytes.
"""

import argparse
import base64
import hashlib
import os
import time
import zipfile

NAME = "litestream-vfs"
MODULE = "litestream_vfs"


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def metadata(args, readme):
    fields = [
        ("Metadata-Version", "2.4"),
        ("Name", NAME),
        ("Version", args.version),
        ("Summary", "Litestream read-replica VFS for SQLite as a loadable extension (Litestream.Aot, NativeAOT)"),
        ("Author", args.author),
        ("License-Expression", "Apache-2.0"),
        ("License-File", "LICENSE"),
        ("Project-URL", "Homepage, " + args.homepage),
        ("Keywords", "sqlite,litestream,vfs,replication"),
        ("Classifier", "Development Status :: 4 - Beta"),
        ("Classifier", "Intended Audience :: Developers"),
        ("Classifier", "Operating System :: POSIX :: Linux"),
        ("Classifier", "Programming Language :: Python :: 3"),
        ("Classifier", "Topic :: Database"),
        ("Requires-Python", ">=3.8"),
        ("Description-Content-Type", "text/markdown"),
    ]
    return "".join("%s: %s\n" % f for f in fields) + "\n" + readme


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--so", required=True, help="the published litestream-vfs.so")
    p.add_argument("--platform", required=True, action="append", help="platform tag, e.g. manylinux_2_17_x86_64 (repeatable)")
    p.add_argument("--version", required=True)
    p.add_argument("--author", required=True)
    p.add_argument("--homepage", required=True)
    p.add_argument("--license", required=True, help="the license text to ship")
    p.add_argument("--out", required=True, help="directory for the .whl")
    args = p.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    read = lambda path: open(path, "rb").read()
    dist_info = "%s-%s.dist-info" % (MODULE, args.version)
    tags = "".join("Tag: py3-none-%s\n" % t for t in args.platform)
    files = [
        (MODULE + "/__init__.py", read(os.path.join(here, MODULE, "__init__.py")), 0o644),
        (MODULE + "/litestream-vfs.so", read(args.so), 0o755),
        (dist_info + "/METADATA", metadata(args, read(os.path.join(here, "README.md")).decode()).encode(), 0o644),
        (dist_info + "/WHEEL", ("Wheel-Version: 1.0\nGenerator: litestream-aot deploy/python/build.sh\n"
                                "Root-Is-Purelib: false\n" + tags).encode(), 0o644),
        (dist_info + "/licenses/LICENSE", read(args.license), 0o644),
    ]
    record = "".join("%s,%s,%d\n" % (name, record_hash(data), len(data)) for name, data, _ in files)
    files.append((dist_info + "/RECORD", (record + dist_info + "/RECORD,,\n").encode(), 0o644))

    # Zip dates start at 1980; the compressed tag set ("a.b") names every platform in one file name.
    stamp = time.gmtime(max(int(os.environ.get("SOURCE_DATE_EPOCH", time.time())), 315532800))[:6]
    wheel = os.path.join(args.out, "%s-%s-py3-none-%s.whl" % (MODULE, args.version, ".".join(args.platform)))
    os.makedirs(args.out, exist_ok=True)
    with zipfile.ZipFile(wheel + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in files:  # RECORD last, as PEP 427 recommends
            info = zipfile.ZipInfo(name, stamp)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    os.replace(wheel + ".tmp", wheel)
    print(wheel)


if __name__ == "__main__":
    main()
