"""Sums the counters of every TRX file under a folder and prints 'N passed, N failed, N skipped'.

--extra-passed / --extra-failed add checks that are not xunit tests (the benchmark harness smoke run).
"""
import argparse, glob, os
import xml.etree.ElementTree as ET

ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
ap = argparse.ArgumentParser()
ap.add_argument("folder", nargs="?", default="TestResults")
ap.add_argument("--extra-passed", type=int, default=0)
ap.add_argument("--extra-failed", type=int, default=0)
args = ap.parse_args()
passed, failed, skipped = args.extra_passed, args.extra_failed, 0
files = glob.glob(os.path.join(args.folder, "**", "*.trx"), recursive=True)
for path in files:
    try:
        counters = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    except ET.ParseError:
        failed += 1
        continue
    if counters is None:
        continue
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
    # The TRX logger leaves notExecuted at 0 for xunit skips: a skipped test is counted in total but not executed.
    total, executed = int(counters.get("total", 0)), int(counters.get("executed", 0))
    skipped += max(int(counters.get("notExecuted", 0)), total - executed)
if not files:
    failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
