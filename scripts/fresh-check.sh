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

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/fresh-root.sh
. "$repo/scripts/lib/fresh-root.sh"   # the root: mirrors, mmdebstrap, mounts, cleanup (shared with debs.sh)
say() { fresh_say "$@"; }
die() { fresh_die "$@"; }

fresh_root_init fresh-check
sha=$(git -C "$repo" rev-parse --verify "$ref^{commit}") || die "unknown ref $ref"
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] || [ "$ref" != HEAD ] ||
  say "note: the checkout has uncommitted changes; they are not checked (only commit ${sha:0:12})"

say "checking ${sha:0:12} ($(git -C "$repo" log -1 --format=%s "$sha"))"
fresh_root_create
fresh_root_mount

# The clone a newcomer would make, at exactly $sha.
git clone -q --no-checkout "$repo" "$root/root/libfwtrain"
git -C "$root/root/libfwtrain" fetch -q "$repo" "$sha"
git -C "$root/root/libfwtrain" checkout -q --detach "$sha"

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
  fresh_root_kill_inside
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
