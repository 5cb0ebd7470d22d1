"""Sums the counters of every TRX file under a folder and prints 'N passed, N failed, N skipped'."""
import glob, os, sys
import xml.etree.ElementTree as ET

ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
files = glob.glob(os.path.join(sys.argv[1] if len(sys.argv) > 1 else "TestResults", "**", "*.trx"), recursive=True)
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
    skipped += int(counters.get("notExecuted", 0))
if not files:
    failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
