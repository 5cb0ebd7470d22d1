# Sourced by the deploy/ scripts: prop NAME prints <NAME> from Directory.Build.props, the one place the version,
# authors and repository URL are written (the binaries and NuGet packages get them from there too).
prop() {
  local value
  value=$(sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$(dirname "${BASH_SOURCE[0]}")/../Directory.Build.props")
  [ -n "$value" ] || { echo "error: no <$1> in Directory.Build.props" >&2; return 1; }
  echo "$value"
}
