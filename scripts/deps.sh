#!/usr/bin/env bash
# Installs the Debian packages both README commands need (scripts/demo.sh, scripts/test.sh),
# only those that are missing. Idempotent; prints nothing when everything is present.
#
# What needs what:
#   build:        cmake make gcc g++ pkg-config + the -dev packages of the libraries
#   test lanes:   clang and its sanitizer runtimes (libclang-rt-N-dev: Debian only *recommends* it, and
#                 without it the ASan/TSan lanes cannot link), valgrind, cmocka,
#                 python3 (the ctypes FFI test), python3-pytest python3-venv python3-pip python3-setuptools
#                 (the Python package's tests and its offline `pip install`), doxygen (the API reference and its tests),
#                 abigail-tools (the ABI check)
#   the library:  ca-certificates, without which every https:// request fails ("error setting
#                 certificate file")
# Runs apt-get as root, or through sudo otherwise. Works on a minimal Debian 12 (the debian:12 image).
set -euo pipefail

pkgs=(ca-certificates cmake make gcc g++ clang pkg-config valgrind python3
      python3-pytest python3-venv python3-pip python3-setuptools
      libcurl4-openssl-dev libcjson-dev libssl-dev libcmocka-dev
      libmicrohttpd-dev libzstd-dev zlib1g-dev libxxhash-dev doxygen abigail-tools)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# The clang major version the Debian `clang` package depends on (installed, or else the candidate in the
# package lists): clang -> clang-14 gives 14. Empty when unknown (no package lists yet).
clang_major() {
  local dep
  dep=$(dpkg-query -W -f='${Depends}' clang 2>/dev/null || true)
  [ -n "$dep" ] || dep=$(apt-cache depends clang 2>/dev/null | sed -n 's/^ *Depends: //p' || true)
  printf '%s\n' "$dep" | { grep -o 'clang-[0-9][0-9]*' || true; } | head -n1 | cut -d- -f2
}
# Debian names the sanitizer runtimes libclang-rt-N-dev from clang 14 on (libclang-common-N-dev before).
rt_pkg() { if [ "$1" -ge 14 ]; then echo "libclang-rt-$1-dev"; else echo "libclang-common-$1-dev"; fi; }

missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
major=$(clang_major)
if [ -n "$major" ]; then
  installed "$(rt_pkg "$major")" || missing+=("$(rt_pkg "$major")")
else
  missing+=("clang's sanitizer runtime")   # named once the package lists are known
fi
[ "${#missing[@]}" -gt 0 ] || exit 0

# One line before anything slow: apt-get is silent for a while and a fresh machine downloads a lot.
if installed clang && installed valgrind; then
  eta="under a minute"
else
  eta="about 2-4 minutes and ~200 MB of downloads on a fresh machine"
fi
echo "deps: installing ${missing[*]} (Debian packages, with apt-get; $eta)"

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/fwt-deps-XXXXXX.log")
trap 'rm -f "$log"' EXIT
apt_get() { # run apt-get quietly; show its output only when it fails
  "${SUDO[@]}" apt-get "$@" >"$log" 2>&1 || { cat "$log" >&2; echo "deps: apt-get $1 failed" >&2; exit 1; }
}
apt_get update -q
if [ -z "$major" ]; then
  major=$(clang_major)
  [ -n "$major" ] || { echo "deps: cannot tell which clang Debian provides (apt-cache depends clang)" >&2; exit 1; }
  missing=("${missing[@]:0:${#missing[@]}-1}")
  installed "$(rt_pkg "$major")" || missing+=("$(rt_pkg "$major")")
fi
apt_get install -y -q --no-install-recommends "${missing[@]}"

# The failure this guards against is silent until the ASan lane links: check clang finds its runtime.
asan_rt="libclang_rt.asan-$(uname -m).a"
case $(clang -print-file-name="$asan_rt") in
  /*) ;;
  *) echo "deps: clang cannot find $asan_rt after installing $(rt_pkg "$major"): is \`clang\` on PATH" \
          "Debian's clang-$major ($(command -v clang))?" >&2
     exit 1 ;;
esac
