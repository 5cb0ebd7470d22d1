# Sourced by the deploy/ scripts that wrap litestream-vfs.so (python/build.sh, npm/build.sh):
#   vfs_args "$@"     sets out (-o DIR, default dist) and rids (-r RID..., default vfs_rids); -h prints the caller's header
#   vfs_license       the Apache-2.0 text the packages ship
#   vfs_so RID        prints bin/RID/litestream-vfs.so, publishing it first when missing, after checking its ELF machine
#   vfs_glibc SO      the newest glibc version the library needs, at least 2.17 (the manylinux2014 baseline)
#   vfs_rids          the RIDs to package when none were asked for: linux-x64, and linux-arm64 once it is published
vfs_so() {
  local rid=$1 so="bin/$1/litestream-vfs.so" machine
  case $rid in
    linux-x64) machine="X86-64" ;;
    linux-arm64) machine="AArch64" ;;
    *) echo "error: unknown RID $rid (linux-x64 or linux-arm64)" >&2; return 2 ;;
  esac
  if [ ! -f "$so" ]; then
    echo "$so is not published: running ./publish.sh -r $rid" >&2
    ./publish.sh -r "$rid" >&2 || return 1
  fi
  readelf -h "$so" | grep -q "Machine:.*$machine" || { echo "error: $so is not a $machine library" >&2; return 1; }
  echo "$so"
}
vfs_glibc() {
  readelf -V --wide "$1" | grep -o 'GLIBC_2\.[0-9]*' | sed 's/GLIBC_//' | sort -t. -k2,2n | tail -1 \
    | awk -F. '{ print ($2 > 17) ? $0 : "2.17" }'
}
vfs_rids() {
  echo linux-x64
  [ -f bin/linux-arm64/litestream-vfs.so ] && echo linux-arm64
  return 0
}
vfs_args() {
  out=dist
  rids=()
  while [ $# -gt 0 ]; do
    case $1 in
      -r|--rid) rids+=("$2"); shift 2 ;;
      -o|--output) out=$2; shift 2 ;;
      -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
      *) echo "error: unknown argument $1" >&2; echo "hint: $0 [-r linux-x64|linux-arm64]... [-o DIR]" >&2; exit 2 ;;
    esac
  done
  [ ${#rids[@]} -gt 0 ] || mapfile -t rids < <(vfs_rids)
}
vfs_license() {
  local license=/usr/share/common-licenses/Apache-2.0
  [ -f "$license" ] || { echo "error: $license is missing (Debian's base-files ships it)" >&2; return 1; }
  echo "$license"
}
