#!/usr/bin/env bash
# fresh-check: do both README commands work on a fresh machine?
#
# Builds a minimal Debian 12 root with mmdebstrap (variant minbase: the package set of the debian:12 image,
# which is built with debootstrap --variant=minbase), clones this repository into /root/libfwtrain inside it,
# and runs exactly the two README commands there as root, in README order:
#     ./scripts/demo.sh
#     ./scripts/test.sh
# then prints PASS/FAIL with the time of each. Everything they need must come from scripts/deps.sh.
#
# Usage (as root, needs mmdebstrap and network access to a Debian mirror):
#     scripts/fresh-check.sh [--keep] [--verbose] [REF]
#   REF        commit to check (default HEAD of the checkout the script is in; uncommitted changes are
#              not part of it)
#   --keep     keep the root afterwards (its path is printed) instead of deleting it
#   --verbose  stream the commands' output instead of only showing its tail on failure
# The mirror, security mirror and any apt proxy are taken from the host's apt configuration
# (apt-get indextargets, apt-config); FWT_FRESH_MIRROR=URL overrides the main mirror.
# Each command's full output is kept in a log directory printed at the end.
# Takes 15-40 minutes (downloads ~450 MB, builds 4 times, runs every test lane); not part of ctest or CI.
set -euo pipefail

keep=0 verbose=0 ref=HEAD
while [ $# -gt 0 ]; do
  case $1 in
  --keep) keep=1 ;;
  --verbose|-v) verbose=1 ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  -*) echo "fresh-check: unknown option $1 (see --help)" >&2; exit 2 ;;
  *) ref=$1 ;;
  esac
  shift
done

say() { echo "fresh-check: $*"; }
die() { echo "fresh-check: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap, chroot and mounts need it)"
command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sha=$(git -C "$repo" rev-parse --verify "$ref^{commit}") || die "unknown ref $ref"
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] || [ "$ref" != HEAD ] ||
  say "note: the checkout has uncommitted changes; they are not checked (only commit ${sha:0:12})"

# Debian's archive as the host reaches it: the host's own bookworm sources (a mirror or proxy set there
# applies here too), else deb.debian.org.
mirror=${FWT_FRESH_MIRROR:-} security=""
while read -r uri suite; do
  case $suite in
  bookworm) [ -n "$mirror" ] || mirror=$uri ;;
  bookworm-security) [ -n "$security" ] || security=$uri ;;
  esac
done < <(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 2>/dev/null | sort -u)
mirror=${mirror:-http://deb.debian.org/debian/}
security=${security:-http://deb.debian.org/debian-security/}
aptopts=()
while IFS= read -r line; do aptopts+=(--aptopt="$line"); done < <(
  apt-config dump | grep -E '^Acquire::(https?|ftp)::Proxy|^Acquire::Check-Valid-Until' || true)

stamp=$(date -u +%Y%m%dT%H%M%SZ)
logs=${TMPDIR:-/var/tmp}/fwt-fresh-logs-$stamp
mkdir -p "$logs"
root=$(mktemp -d "${TMPDIR:-/var/tmp}/fwt-fresh-root-XXXXXX")
mounts=()   # mounted inside $root, in mount order

# Processes still running inside the root (a server a failed command left behind): found by their root
# directory, killed by pid.
kill_inside() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case $r in "$root"|"$root"/*) kill -9 "${p#/proc/}" 2>/dev/null || true ;; esac
  done
}
cleanup() {
  local rc=$? i busy=0
  trap - EXIT INT TERM
  kill_inside
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null ||
      { echo "fresh-check: cannot unmount ${mounts[i]}" >&2; busy=1; }
  done
  # Never delete through a mount that is still there (it would delete the host's /dev).
  if grep -q " ${root}[/ ]" /proc/self/mountinfo; then busy=1; fi
  if [ "$keep" -eq 1 ] || [ "$busy" -eq 1 ]; then
    say "root kept in $root"
  else
    rm -rf --one-file-system "$root"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "fresh-check: interrupted" >&2; exit 130' INT TERM

say "checking ${sha:0:12} ($(git -C "$repo" log -1 --format=%s "$sha"))"
say "building a minimal Debian 12 root (mmdebstrap --variant=minbase bookworm, $mirror) in $root"
t0=$(date +%s)
mmdebstrap --variant=minbase --mode=root --format=directory "${aptopts[@]}" bookworm "$root" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main" \
  >"$logs/mmdebstrap.log" 2>&1 || { tail -30 "$logs/mmdebstrap.log"; die "mmdebstrap failed (log: $logs/mmdebstrap.log)"; }
say "root built in $(( $(date +%s) - t0 )) s: $(chroot "$root" dpkg-query -W -f='.\n' | wc -l) packages"

# What a container runtime provides: /proc, /sys, /dev (with pts and shm), DNS and localhost.
mnt() { mount "$@"; mounts+=("${*: -1}"); }
mnt -t proc proc "$root/proc"
mnt -t sysfs sysfs "$root/sys"
mnt --bind /dev "$root/dev"
mnt --bind /dev/pts "$root/dev/pts"
mnt -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# The clone a newcomer would make, at exactly $sha.
git clone -q --no-checkout "$repo" "$root/root/libfwtrain"
git -C "$root/root/libfwtrain" fetch -q "$repo" "$sha"
git -C "$root/root/libfwtrain" checkout -q --detach "$sha"

envv=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM="${TERM:-dumb}")
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -z "${!v:-}" ] || envv+=("$v=${!v}")
done

status=0
results=()
run() { # name command: run one README command as root inside the root, from the clone
  local name=$1 cmd=$2 t rc=0 secs
  say "running $cmd (output: $logs/$name.log)"
  t=$(date +%s)
  if [ "$verbose" -eq 1 ]; then
    chroot "$root" /usr/bin/env -i "${envv[@]}" /bin/bash -c "cd /root/libfwtrain && $cmd" </dev/null 2>&1 |
      tee "$logs/$name.log" || rc=$?
  else
    chroot "$root" /usr/bin/env -i "${envv[@]}" /bin/bash -c "cd /root/libfwtrain && $cmd" </dev/null \
      >"$logs/$name.log" 2>&1 || rc=$?
  fi
  secs=$(( $(date +%s) - t ))
  kill_inside
  if [ "$rc" -eq 0 ]; then
    results+=("$(printf 'PASS  %-18s %5d s' "$cmd" "$secs")")
  else
    status=1
    results+=("$(printf 'FAIL  %-18s %5d s  (exit %d)' "$cmd" "$secs" "$rc")")
    if [ "$verbose" -eq 0 ]; then
      echo "---- last 40 lines of $cmd"
      tail -40 "$logs/$name.log"
      echo "----"
    fi
  fi
  echo "${results[-1]}"
}
run demo ./scripts/demo.sh
run test ./scripts/test.sh

echo
say "summary for ${sha:0:12} on a minimal Debian 12 (mmdebstrap minbase):"
printf '  %s\n' "${results[@]}"
say "logs in $logs"
if [ "$status" -eq 0 ]; then say "PASS"; else say "FAIL"; fi
exit "$status"
