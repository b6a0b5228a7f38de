#!/usr/bin/env bash
# debs: build the Debian packages from debian/ and check them on a fresh Debian 12.
#
#   1. installs what building needs (debhelper, dh-python, lintian, ... and debian/control's Build-Depends),
#      only what is missing, like scripts/deps.sh;
#   2. copies the source tree (tracked and untracked-but-not-ignored files, uncommitted changes included) to
#      a temporary directory and runs `dpkg-buildpackage -us -uc -b` there, so nothing is written next to
#      or inside the checkout;
#   3. runs lintian on the result and fails on any error (warnings are printed);
#   4. builds a minimal Debian 12 root (scripts/lib/fresh-root.sh, shared with fresh-check.sh), installs the
#      packages there with apt, and checks them against fwtrain-local started from the package: a C program
#      built with `pkg-config --cflags --libs fwtrain`, the Python package (when built), the CLI with --json,
#      the man pages and the bash completion.
#
# Usage (as root, network access to a Debian mirror):
#     scripts/debs.sh [--out DIR] [--no-root] [--keep]
#   --out DIR   where the .deb files (and the build log, lintian report) go; default a new directory under
#               ${TMPDIR:-/var/tmp}, printed at the end
#   --no-root   stop after lintian (no fresh root)
#   --keep      keep the fresh root afterwards (its path is printed)
# Takes 5-15 minutes. Not part of ctest or scripts/test.sh.
set -euo pipefail

out="" no_root=0 keep=0
while [ $# -gt 0 ]; do
  case $1 in
  --out) out=${2:?--out needs a directory}; shift ;;
  --no-root) no_root=1 ;;
  --keep) keep=1 ;;
  -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
  *) echo "debs: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib/fresh-root.sh
. "$repo/scripts/lib/fresh-root.sh"
say() { echo "debs: $*"; }
die() { echo "debs: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, and the fresh root's chroot and mounts)"

# ---- 1. build dependencies ------------------------------------------------------------------------------
tools=(dpkg-dev debhelper fakeroot lintian mmdebstrap dh-python python3-all python3-setuptools
       pybuild-plugin-pyproject python3-build python3-installer)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${tools[@]}"; do installed "$p" || missing+=("$p"); done
export DEBIAN_FRONTEND=noninteractive
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! (cd "$repo" && dpkg-checkbuilddeps) 2>/dev/null; then
  say "installing the Build-Depends of debian/control"
  apt-get update -q >/dev/null
  apt-get build-dep -y -q --no-install-recommends "$repo" >/dev/null
fi

# ---- 2. build, out of the tree --------------------------------------------------------------------------
version=$(cd "$repo" && dpkg-parsechangelog -S Version)
upstream=${version%-*}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/fwt-debs-build-XXXXXX")
trap 'rm -rf "$work"' EXIT
out=${out:-$(mktemp -d "${TMPDIR:-/var/tmp}/fwt-debs-XXXXXX")}
mkdir -p "$out"
src=$work/libfwtrain-$upstream
mkdir "$src"
git -C "$repo" ls-files -z -co --exclude-standard | (cd "$repo" && tar --null -T - -cf -) | tar -xf - -C "$src"
say "building $version in $work (log: $out/build.log)"
t0=$(date +%s)
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 ||
  { tail -40 "$out/build.log"; die "dpkg-buildpackage failed (log: $out/build.log)"; }
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$out"/
rm -rf "$work"
say "built in $(( $(date +%s) - t0 )) s:"
(cd "$out" && for d in *.deb; do printf '  %-52s %8s bytes\n' "$d" "$(stat -c %s "$d")"; done)

# ---- 3. lintian -----------------------------------------------------------------------------------------
changes=$(ls "$out"/*.changes)
lintian --fail-on error --tag-display-limit 0 "$changes" >"$out/lintian.txt" 2>&1 || lint_rc=$?
sed 's/^/  lintian: /' "$out/lintian.txt"
[ "${lint_rc:-0}" -eq 0 ] || die "lintian reports errors (see above)"
say "lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors, $(grep -c '^W:' "$out/lintian.txt" || true) warnings"
if [ "$no_root" -eq 1 ]; then
  say "packages in $out"
  exit 0
fi

# ---- 4. a fresh Debian 12 root --------------------------------------------------------------------------
logs=$out
fresh_root_init debs
fresh_root_create --include=ca-certificates,gcc,libc6-dev,pkgconf,python3
fresh_root_mount
mkdir -p "$root/root/debs"
cp "$out"/*.deb "$root/root/debs/"
say "installing the packages in the root (apt resolves their dependencies from $mirror)"
fresh_root_run "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /root/debs/*.deb" \
  >"$logs/install.log" 2>&1 || { tail -30 "$logs/install.log"; die "installing the packages failed"; }

cat >"$root/root/consumer.c" <<'C'
/* A program built against the installed libfwtrain-dev: a trainer job on fwtrain-local, created, waited
 * for and found in the account's job list. */
#include <fwtrain/fwtrain.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    fwt_client *c = NULL;
    if (fwt_client_new(&c, NULL) != FWT_OK) { /* FIREWORKS_BASE_URL, FIREWORKS_API_KEY */
        fprintf(stderr, "client: %s\n", fwt_error_last()->message);
        return 1;
    }
    fwt_job_create_options o;
    fwt_job_create_options_init(&o, FWT_JOB_CREATE_OPTIONS_VERSION);
    o.job_id = "debs-c-job";
    o.base_model = "accounts/fireworks/models/fwtrain-local-byte";
    fwt_job *job = NULL, *ready = NULL;
    fwt_job_list *all = NULL;
    int rc = fwt_job_create(&job, c, &o);
    if (rc == FWT_OK)
        rc = fwt_job_wait_ready_result(&ready, c, fwt_job_id(job), NULL, 60000);
    if (rc == FWT_OK)
        rc = fwt_job_list_all(&all, c, NULL);
    int found = 0;
    for (size_t i = 0; rc == FWT_OK && i < fwt_job_list_count(all); i++)
        found |= !strcmp(fwt_job_id(fwt_job_list_get(all, i)), "debs-c-job");
    if (rc == FWT_OK)
        printf("libfwtrain %s: job %s is %s; listed: %s\n", fwt_version_string(), fwt_job_id(ready),
               fwt_job_state(ready), found ? "yes" : "no");
    else
        fprintf(stderr, "failed: %s\n", fwt_error_last()->message);
    fwt_job_list_free(all);
    fwt_job_free(ready);
    fwt_job_free(job);
    fwt_client_free(c);
    return rc == FWT_OK && found ? 0 : 1;
}
C
cat >"$root/root/check.py" <<'PY'
"""python3-fwtrain against fwtrain-local, through the packaged libfwtrain0: a job created, waited for, read back."""
import os

import fwtrain

print("python: fwtrain %s from %s, libfwtrain %s at %s" % (fwtrain.__version__, os.path.dirname(fwtrain.__file__),
                                                         fwtrain.library_version, fwtrain.library_path))
assert fwtrain.library_path.startswith("/usr/lib/"), fwtrain.library_path
mgr = fwtrain.TrainerJobManager(api_key=os.environ["FIREWORKS_API_KEY"], base_url=os.environ["FIREWORKS_BASE_URL"])
created = mgr.create(fwtrain.TrainerJobConfig(base_model="accounts/fireworks/models/fwtrain-local-byte",
                                              job_id="debs-py-job"))
mgr.wait_for_ready(created.job_id, poll_interval_s=0.1, timeout_s=60)
job = mgr.get(created.job_id)
assert job["state"] == "JOB_STATE_RUNNING", job
print("python: job %s is %s" % (created.job_id, job["state"]))
PY
cat >"$root/root/check.sh" <<'SH'
set -euo pipefail
cd /root
step() { echo "-- $*"; }
step "installed: $(dpkg-query -W -f='${Package} ${Version}, ' libfwtrain0 libfwtrain-dev fwtrain-tools python3-fwtrain 2>/dev/null)"
fwtrain --version
fwtrain-local --data-dir /root/data --port 0 --port-file /root/port --api-key debs-key --job-start-ms 100 \
  >/root/server.log 2>&1 &
for _ in $(seq 100); do [ -s /root/port ] && break; sleep 0.1; done
[ -s /root/port ] || { cat /root/server.log; echo "fwtrain-local did not start"; exit 1; }
export FIREWORKS_BASE_URL=http://127.0.0.1:$(cat /root/port) FIREWORKS_API_KEY=debs-key
step "C consumer: cc consumer.c \$(pkg-config --cflags --libs fwtrain)"
cc -std=c11 -Wall -Wextra -Werror -o consumer consumer.c $(pkg-config --cflags --libs fwtrain)
ldd consumer | grep libfwtrain
./consumer
step "CLI"
fwtrain job create --base-model accounts/fireworks/models/fwtrain-local-byte --job-id debs-cli-job --wait --json \
  | python3 -c 'import json, sys; j = json.load(sys.stdin); assert j["state"] == "JOB_STATE_RUNNING", j; print("cli: job", j["job_id"], j["state"])'
fwtrain job list --json | python3 -c 'import json, sys; print("cli: jobs", sorted(j["job_id"] for j in json.load(sys.stdin)))'
test -f /usr/share/man/man1/fwtrain.1.gz && test -f /usr/share/man/man1/fwtrain-local.1.gz
test -f /usr/share/bash-completion/completions/fwtrain
bash -c 'source /usr/share/bash-completion/completions/fwtrain; COMP_WORDS=(fwtrain job ""); COMP_CWORD=2; _fwtrain; echo "completion: fwtrain job <TAB> -> ${COMPREPLY[*]}"'
if dpkg-query -W python3-fwtrain >/dev/null 2>&1; then
  step "Python package"
  python3 /root/check.py
fi
echo "-- all checks passed"
SH
say "checking the installed packages against fwtrain-local (log: $logs/check.log)"
rc=0
fresh_root_run "bash /root/check.sh" 2>&1 | tee "$logs/check.log" | sed 's/^/  root: /' || rc=$?
fresh_root_kill_inside
[ "$rc" -eq 0 ] || die "the packages do not work in a fresh Debian 12 root (log: $logs/check.log)"
say "PASS: packages in $out"
