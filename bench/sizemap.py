#!/usr/bin/env python3
"""Where the exe's bytes go: sums ILC's map file by the assembly (and, for ours, the namespace) each symbol names.

  IlcGenerateMapFile=true dotnet publish src/Litestream.Aot/Litestream.Aot.csproj -c Release -r linux-x64 -o /tmp/out
  python3 bench/sizemap.py src/Litestream.Aot/obj/Release/net10.0/linux-x64/native/Litestream.Aot.map.xml [ROWS]

Counts method code, type data, GC info and generic dictionaries by name; blobs without an owner (metadata, frozen
objects, dehydrated data: about a quarter of the file) are summed under their node kind.
"""
import collections, re, sys

NAMED = re.compile(r'<(MethodCode|ConstructedEEType|GCInfo|EEType|MethodGenericDictionary|TypeGenericDictionary) Name="([^"]*)" Length="(\d+)"')
ANY = re.compile(r'<(\w+) Name="[^"]*" Length="(\d+)"')
OURS = re.compile(r'^(Litestream(?:_Aot|_Cli|_Ltx)?_Litestream(?:_Aot)?_[A-Za-z]+(?:_[A-Za-z]+)?)')


def owner(name):
    name = re.sub(r'^(_ZTV\d+|__GenericDict_|__GCInfo_|_ZN\d+)', '', name)
    if name.startswith('Litestream'):
        m = OURS.match(name)
        return m.group(1) if m else 'Litestream (other)'
    parts = name.split('_')
    # Assembly names are mangled with '_' for '.': the first two or three parts name it (S_P_CoreLib, AWSSDK_S3, System_Text_Json).
    wide = (parts[0] == 'System' and len(parts) > 2 and parts[1] in ('Text', 'Net', 'Security', 'Private')) or parts[0] in ('S', 'Boxed')
    return '_'.join(parts[:3] if wide else parts[:2])


def main():
    path, rows = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 40
    totals, total = collections.Counter(), 0
    for line in open(path, encoding='utf-8'):
        named = NAMED.search(line)
        if named:
            totals[owner(named.group(2))] += int(named.group(3))
            total += int(named.group(3))
        elif (m := ANY.search(line)):
            totals['(' + m.group(1) + ')'] += int(m.group(2))
            total += int(m.group(2))
    print(f'{total:>12,} bytes in the map')
    for key, size in totals.most_common(rows):
        print(f'{size:>12,}  {key}')


if __name__ == '__main__':
    main()
