#!/usr/bin/env bash
# Builds the release artifacts from the published binaries (bin/<rid>/, see publish.sh) into dist/:
#   litestream_<version>_amd64.deb, litestream_<version>_arm64.deb         (dpkg-deb)
#   litestream-<version>-1.x86_64.rpm, litestream-<version>-1.aarch64.rpm  (rpmbuild)
#   litestream-<version>-linux-<arch>, litestream-vfs-<version>-linux-<arch>.so (the plain binaries)
#   litestream-<version>.cdx.json  CycloneDX SBOM: NuGet packages, .NET runtime, SQLite
#   SHA256SUMS                     over every file above
#
#   deploy/package.sh [-a amd64|arm64]... [-o DIR]
#
# Both architectures unless -a picks some; a binary that is not published yet is published first. Everything
# comes from the binaries themselves: the version (`litestream version`, checked equal across architectures), the
# man page (`litestream man`) and the shell completions (`litestream completion SHELL`). Needs dpkg-deb, rpmbuild
# (apt: rpm), python3, and qemu-aarch64 to run the arm64 binary on an x86_64 machine (.ci/install.sh has them all).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=dist
arches=()
while [ $# -gt 0 ]; do
  case $1 in
    -a|--arch) arches+=("$2"); shift 2 ;;
    -o|--output) out=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1" >&2; echo "hint: deploy/package.sh [-a amd64|arm64]... [-o DIR]" >&2; exit 2 ;;
  esac
done
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64)
for tool in dpkg-deb rpmbuild python3 readelf gzip sha256sum; do
  command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; echo "hint: run .ci/install.sh (apt: dpkg-dev, rpm, python3, binutils)" >&2; exit 1; }
done

rid_of() { case $1 in amd64) echo linux-x64 ;; arm64) echo linux-arm64 ;; *) echo "error: unknown architecture $1 (amd64 or arm64)" >&2; exit 2 ;; esac; }
rpm_arch_of() { case $1 in amd64) echo x86_64 ;; arm64) echo aarch64 ;; esac; }
case $(uname -m) in
  x86_64) host=amd64 ;;
  aarch64) host=arm64 ;;
  *) echo "error: cannot run litestream on $(uname -m) to read its version and help" >&2; exit 1 ;;
esac
# Runs the binary of an architecture: natively, or under qemu-user for arm64 on x86_64.
run() {
  local target=$1 exe="bin/$(rid_of "$1")/litestream"; shift
  if [ "$target" = "$host" ]; then "$exe" "$@"; else qemu-aarch64 -L /usr/aarch64-linux-gnu "$exe" "$@"; fi
}
for arch in "$host" "${arches[@]}"; do
  rid=$(rid_of "$arch")
  if [ ! -x "bin/$rid/litestream" ] || [ ! -f "bin/$rid/litestream-vfs.so" ]; then
    echo "bin/$rid is not published: running ./publish.sh -r $rid"
    ./publish.sh -r "$rid"
  fi
done

# One version for everything, from the binary: "v0.5.16-aot (sqlite 3.54.1, linux-x64)" -> 0.5.16, and the commit
# it was built from (`version -verbose`; the SDK stamps it in). Every architecture must be the same build.
identity() { run "$1" version -verbose | sed -n '1s/ (.*//p; s/^commit: //p' | paste -sd' '; }
version_line=$(run "$host" version)
version=${version_line#v}
version=${version%%[- ]*}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "error: cannot read a version from \"$version_line\"" >&2; exit 1; }
sqlite_version=$(sed -n 's/.*(sqlite \([0-9.]*\),.*/\1/p' <<<"$version_line")
built=$(identity "$host")
commit=${built##* }
for arch in "${arches[@]}"; do
  [ "$arch" = "$host" ] && continue
  command -v qemu-aarch64 >/dev/null || { echo "error: qemu-aarch64 is needed to check the $arch binary's version" >&2; echo "hint: apt-get install qemu-user" >&2; exit 1; }
  other=$(identity "$arch")
  if [ "$other" != "$built" ]; then
    echo "error: bin/$(rid_of "$arch")/litestream is $other but bin/$(rid_of "$host")/litestream is $built" >&2
    echo "hint: publish both from the same tree: ./publish.sh && ./publish.sh -r linux-arm64" >&2
    exit 1
  fi
done
homepage=$(sed -n 's:.*<RepositoryUrl>\(.*\)</RepositoryUrl>.*:\1:p' Directory.Build.props)
[ -n "$homepage" ] || { echo "error: no <RepositoryUrl> in Directory.Build.props" >&2; exit 1; }
# Reproducible archives: file times are the commit's time.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct "$commit" 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
out=$(cd "$out" && pwd)
artifacts=()

echo "litestream $version (sqlite $sqlite_version): ${arches[*]} -> $out"
run "$host" man | gzip -9n > "$work/litestream.1.gz"
for shell in bash zsh fish; do
  run "$host" completion "$shell" > "$work/completion.$shell"
done

# Lays out the files both packages install under ROOT; the unit and zsh directories differ between distributions.
stage() {
  local root=$1 rid=$2 unit_dir=$3 zsh_dir=$4 doc_dir=$5
  install -D -m 0755 "bin/$rid/litestream" "$root/usr/bin/litestream"
  install -D -m 0644 deploy/linux/litestream.service "$root$unit_dir/litestream.service"
  install -D -m 0644 deploy/linux/litestream.yml "$root/etc/litestream.yml"
  install -D -m 0644 "$work/litestream.1.gz" "$root/usr/share/man/man1/litestream.1.gz"
  install -D -m 0644 "$work/completion.bash" "$root/usr/share/bash-completion/completions/litestream"
  install -D -m 0644 "$work/completion.zsh" "$root$zsh_dir/_litestream"
  install -D -m 0644 "$work/completion.fish" "$root/usr/share/fish/vendor_completions.d/litestream.fish"
  install -D -m 0644 deploy/linux/copyright "$root$doc_dir/copyright"
}

# The newest glibc symbol version the binary needs (readelf reads either architecture).
glibc_min() { readelf -V -W "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1; }

for arch in "${arches[@]}"; do
  rid=$(rid_of "$arch")
  rpm_arch=$(rpm_arch_of "$arch")
  glibc=$(glibc_min "bin/$rid/litestream")
  echo "[$arch] .deb"
  root="$work/deb-$arch"
  stage "$root" "$rid" /lib/systemd/system /usr/share/zsh/vendor-completions /usr/share/doc/litestream
  mkdir -p "$root/DEBIAN"
  cat > "$root/DEBIAN/control" <<EOF
Package: litestream
Version: $version
Architecture: $arch
Maintainer: Litestream.Aot contributors <noreply@litestream.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: libc6 (>= $glibc)
Recommends: libssl3 | libssl3t64, ca-certificates
Section: database
Priority: optional
Homepage: $homepage
Description: continuous replication of SQLite databases to object storage
 Litestream.Aot replicates SQLite databases continuously to S3-compatible object
 storage or a directory, and restores them to any point in time. It is a drop-in
 for Litestream v0.5 (same configuration, commands and replica layout) built as
 one NativeAOT executable. The service is installed disabled: list the databases
 in /etc/litestream.yml, then run systemctl enable --now litestream.
EOF
  echo /etc/litestream.yml > "$root/DEBIAN/conffiles"
  (cd "$root" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
  install -m 0755 deploy/linux/postinstall.sh "$root/DEBIAN/postinst"
  install -m 0755 deploy/linux/preremove.sh "$root/DEBIAN/prerm"
  install -m 0755 deploy/linux/postremove.sh "$root/DEBIAN/postrm"
  deb="litestream_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$out/$deb" >/dev/null
  artifacts+=("$deb")

  echo "[$arch] .rpm"
  root="$work/rpm-$arch"
  stage "$root" "$rid" /usr/lib/systemd/system /usr/share/zsh/site-functions /usr/share/licenses/litestream
  rpmbuild -bb --quiet --target "$rpm_arch-linux" \
    --define "_topdir $work/rpmbuild" --define "_rpmdir $work/rpms" --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "pkg_version $version" --define "homepage $homepage" --define "glibc_min $glibc" \
    --define "stage $root" --define "scripts $repo/deploy/linux" \
    --define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
    --define "_binary_payload w6.xzdio" deploy/linux/litestream.spec >/dev/null
  rpm="litestream-${version}-1.${rpm_arch}.rpm"
  mv "$work/rpms/$rpm" "$out/$rpm"
  artifacts+=("$rpm")

  echo "[$arch] binaries"
  install -m 0755 "bin/$rid/litestream" "$out/litestream-$version-linux-$rpm_arch"
  install -m 0644 "bin/$rid/litestream-vfs.so" "$out/litestream-vfs-$version-linux-$rpm_arch.so"
  artifacts+=("litestream-$version-linux-$rpm_arch" "litestream-vfs-$version-linux-$rpm_arch.so")
done

echo "SBOM"
sbom="litestream-$version.cdx.json"
rids=$(for arch in "${arches[@]}"; do rid_of "$arch"; done | paste -sd,)
python3 deploy/linux/sbom.py --version "$version" --sqlite-version "$sqlite_version" --homepage "$homepage" --rids "$rids" \
  --commit "$commit" > "$out/$sbom"
artifacts+=("$sbom")

(cd "$out" && sha256sum -- "${artifacts[@]}") > "$out/SHA256SUMS"
for artifact in "${artifacts[@]}" SHA256SUMS; do
  echo "$out/$artifact: $(stat -c %s "$out/$artifact") bytes"
done
