#!/usr/bin/env python3
"""CycloneDX 1.5 SBOM of the release (deploy/package.sh writes it beside the packages).

What goes into the two binaries, read from where the build decided it, not from a list kept by hand:
- NuGet packages: the restore's lock of what was resolved (obj/project.assets.json of the exe and the VFS
  extension), each with its SHA-512 from the package cache, and who depends on whom;
- the .NET runtime NativeAOT compiles in (Microsoft.NETCore.App.Runtime.NativeAOT.<rid>, the version the SDK
  restored), one per architecture; the compiler packages themselves are listed as build tools (scope excluded);
- SQLite, linked in statically: its version from the amalgamation's sqlite3.h (checked against what the binary
  reports), the SHA-256 of sqlite3.c, and the npm package it is taken from, both pinned in build/sqlite.sh.
The output is deterministic: time from SOURCE_DATE_EPOCH, serial number derived from version and commit.
"""
import argparse
import base64
import datetime
import json
import os
import re
import sys
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Build-time only: the compiler and trimmer run during publish and leave nothing of themselves in the binary.
BUILD_TOOLS = ("Microsoft.DotNet.ILCompiler", "Microsoft.NET.ILLink.Tasks")
RID_PACKAGE = re.compile(r"^runtime\.linux-[a-z0-9]+\.|\.linux-[a-z0-9]+$")


def fail(message, hint):
    print(f"error: {message}\nhint: {hint}", file=sys.stderr)
    sys.exit(1)


def load_assets(project):
    path = os.path.join(REPO, "src", project, "obj", "project.assets.json")
    if not os.path.exists(path):
        fail(f"{path} is missing", "run ./publish.sh first (it restores the projects)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def nuget_ref(name, version):
    return f"pkg:nuget/{name}@{version}"


def sha512_hex(assets, name, version, library):
    """The package's SHA-512 as CycloneDX wants it (hex), from the lock file or the package cache."""
    digest = library.get("sha512") if library else None
    if digest is None:
        for folder in assets.get("packageFolders", {}):
            candidate = os.path.join(folder, name.lower(), version, f"{name.lower()}.{version}.nupkg.sha512")
            if os.path.exists(candidate):
                with open(candidate, encoding="ascii") as f:
                    digest = f.read().strip()
                break
    return base64.b64decode(digest).hex() if digest else None


def nuget_component(assets, name, version, library=None, scope="required"):
    component = {
        "type": "library",
        "bom-ref": nuget_ref(name, version),
        "name": name,
        "version": version,
        "purl": nuget_ref(name, version),
        "scope": scope,
    }
    digest = sha512_hex(assets, name, version, library)
    if digest:
        component["hashes"] = [{"alg": "SHA-512", "content": digest}]
    return component


def packages_of(assets, rids):
    """(components, dependencies, direct refs) of one project: its restored packages, the rid-specific ones per rid."""
    target_name = next((t for t in assets["targets"] if "/" in t), None) or next(iter(assets["targets"]))
    target = assets["targets"][target_name]
    rid = target_name.split("/")[1] if "/" in target_name else None
    components, dependencies = {}, {}
    for key, entry in target.items():
        name, version = key.split("/")
        if entry.get("type") != "package":
            continue
        scope = "excluded" if name.startswith(BUILD_TOOLS) or "Microsoft.DotNet.ILCompiler" in name else "required"
        names = [name.replace(rid, r) for r in rids] if rid and RID_PACKAGE.search(name) else [name]
        for n in names:
            components[nuget_ref(n, version)] = nuget_component(assets, n, version, assets["libraries"].get(f"{n}/{version}"), scope)
        dependencies[nuget_ref(name, version)] = list(entry.get("dependencies", {}))
    # Resolve dependency names to the versions the restore picked.
    picked = {k.split("/")[0]: k.split("/")[1] for k in target}
    resolved = {}
    for ref, deps in dependencies.items():
        resolved[ref] = sorted(nuget_ref(d, picked[d]) for d in deps if d in picked and target[f"{d}/{picked[d]}"].get("type") == "package")
    framework = next(iter(assets["project"]["frameworks"].values()))
    runtime = []
    for download in framework.get("downloadDependencies", []):
        if download["name"].startswith("Microsoft.NETCore.App.Runtime.NativeAOT."):
            version = download["version"].strip("[]").split(",")[0].strip()
            base = download["name"].rsplit(".", 1)[0]
            for r in rids:
                ref = nuget_ref(f"{base}.{r}", version)
                components[ref] = nuget_component(assets, f"{base}.{r}", version)
                runtime.append(ref)
    # PrivateAssets="all" references (analyzers, the compiler and trimmer) are build tools, not dependencies.
    direct = sorted({nuget_ref(n, picked[n]) for n, d in framework.get("dependencies", {}).items()
                     if n in picked and d.get("suppressParent") != "All"} | set(runtime))
    projects = sorted(k.split("/")[0] for k, e in target.items() if e.get("type") == "project")
    return components, resolved, direct, projects


def sqlite_component(expected_version):
    with open(os.path.join(REPO, "build", "sqlite.sh"), encoding="utf-8") as f:
        script = f.read()
    package = re.search(r"^pkg=(\S+)@(\S+)$", script, re.M)
    source_sha = re.search(r"^src_sha=([0-9a-f]{64})$", script, re.M)
    header = os.path.join(REPO, ".build", "sqlite", "src", "sqlite3.h")
    if not (package and source_sha):
        fail("build/sqlite.sh no longer pins pkg= and src_sha=", "update deploy/linux/sbom.py with it")
    if not os.path.exists(header):
        fail(f"{header} is missing", "run build/sqlite.sh (publish.sh does)")
    with open(header, encoding="utf-8") as f:
        version = re.search(r'#define SQLITE_VERSION\s+"([^"]+)"', f.read()).group(1)
    if expected_version and version != expected_version:
        fail(f"sqlite3.h is {version} but the binary reports {expected_version}", "republish: ./publish.sh")
    return {
        "type": "library",
        "bom-ref": f"pkg:generic/sqlite@{version}",
        "name": "sqlite",
        "version": version,
        "description": "SQLite amalgamation, compiled by build/sqlite.sh and linked statically into litestream",
        "purl": f"pkg:generic/sqlite@{version}",
        "cpe": f"cpe:2.3:a:sqlite:sqlite:{version}:*:*:*:*:*:*:*",
        "licenses": [{"license": {"name": "Public Domain"}}],
        "hashes": [{"alg": "SHA-256", "content": source_sha.group(1)}],
        "scope": "required",
        "pedigree": {"ancestors": [{
            "type": "library",
            "bom-ref": f"pkg:npm/{package.group(1)}@{package.group(2)}",
            "name": package.group(1),
            "version": package.group(2),
            "purl": f"pkg:npm/{package.group(1)}@{package.group(2)}",
        }]},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--sqlite-version", default="")
    parser.add_argument("--homepage", required=True)
    parser.add_argument("--commit", default="unknown")
    parser.add_argument("--rids", default="linux-x64,linux-arm64")
    args = parser.parse_args()
    rids = args.rids.split(",")

    components, dependencies = {}, {}
    first_party = {}
    apps = {"litestream": "Litestream.Aot", "litestream-vfs": "Litestream.Vfs"}
    app_deps = {}
    for app, project in apps.items():
        assets = load_assets(project)
        c, d, direct, projects = packages_of(assets, rids)
        components.update(c)
        dependencies.update(d)
        for p in projects:
            first_party[nuget_ref(p, args.version)] = {"type": "library", "bom-ref": nuget_ref(p, args.version), "name": p, "version": args.version,
                              "purl": nuget_ref(p, args.version), "licenses": [{"license": {"id": "Apache-2.0"}}], "scope": "required"}
        app_deps[app] = sorted(ref for ref in set(direct) | {nuget_ref(p, args.version) for p in projects}
                               if components.get(ref, {}).get("scope") != "excluded")
    # Which package each first-party library pulls in, from the engine's own restore.
    for ref, library in first_party.items():
        p = library["name"]
        own = packages_of(load_assets(p), rids)
        dependencies[ref] = sorted(set(own[2]) | {nuget_ref(q, args.version) for q in own[3]})
    sqlite = sqlite_component(args.sqlite_version)
    app_deps["litestream"].append(sqlite["bom-ref"])
    vfs = {"type": "library", "bom-ref": "litestream-vfs", "name": "litestream-vfs", "version": args.version,
           "description": "SQLite loadable extension (read-replica VFS); uses the host's SQLite", "scope": "required"}
    components = {**first_party, **components, sqlite["bom-ref"]: sqlite, "litestream-vfs": vfs}

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or int(datetime.datetime.now().timestamp())
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{args.homepage}@{args.version}+{args.commit}')}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "deploy/linux/sbom.py"}]},
            "component": {
                "type": "application",
                "bom-ref": "litestream",
                "name": "litestream",
                "version": args.version,
                "description": "Continuous replication of SQLite databases (Litestream v0.5 compatible, NativeAOT)",
                "licenses": [{"license": {"id": "Apache-2.0"}}],
                "externalReferences": [{"type": "vcs", "url": args.homepage, "comment": f"commit {args.commit}"}],
            },
        },
        "components": sorted(components.values(), key=lambda c: c["bom-ref"]),
        "dependencies": sorted(
            [{"ref": "litestream", "dependsOn": app_deps["litestream"]},
             {"ref": "litestream-vfs", "dependsOn": app_deps["litestream-vfs"]},
             {"ref": sqlite["bom-ref"], "dependsOn": []}]
            + [{"ref": ref, "dependsOn": deps} for ref, deps in dependencies.items() if ref in components]
            + [{"ref": ref, "dependsOn": []} for ref in components if ref not in dependencies and ref not in (sqlite["bom-ref"], "litestream-vfs")],
            key=lambda d: d["ref"]),
    }
    json.dump(bom, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
