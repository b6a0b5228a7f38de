# Sourced by scripts/fresh-check.sh and scripts/debs.sh: a fresh minimal Debian 12 root to run things in.
#
#   fresh_root_init TAG        message prefix; finds the mirrors and apt proxy the host uses; sets up cleanup
#   fresh_root_create [ARG...] mmdebstrap --variant=minbase bookworm into $root (ARG: extra mmdebstrap options,
#                              e.g. --include=gcc); log in $logs/mmdebstrap.log
#   fresh_root_mount           what a container runtime provides: /proc, /sys, /dev (pts, shm), DNS, localhost
#   fresh_root_run CMD         run CMD with bash as root inside the root, in a clean environment
#   fresh_root_kill_inside     kill processes still running inside the root (found by their root directory)
# Variables: root (the directory), logs (a log directory; set it before fresh_root_init to choose it), keep
# (1: keep the root at exit), envv (the environment fresh_root_run uses). The caller must be root and
# have mmdebstrap; its EXIT trap is fresh_root_cleanup, which unmounts, deletes the root (never through a
# mount) and exits with the status.

fresh_say() { echo "$fresh_tag: $*"; }
fresh_die() { echo "$fresh_tag: $*" >&2; exit 1; }

fresh_root_init() {
  fresh_tag=$1
  keep=${keep:-0}
  [ "$(id -u)" -eq 0 ] || fresh_die "must run as root (mmdebstrap, chroot and mounts need it)"
  command -v mmdebstrap >/dev/null || fresh_die "mmdebstrap is not installed (apt-get install mmdebstrap)"
  # Debian's archive as the host reaches it: the host's own bookworm sources (a mirror or proxy set there
  # applies here too), else deb.debian.org.
  mirror=${FWT_FRESH_MIRROR:-} security=""
  local uri suite line
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

  local stamp
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  logs=${logs:-${TMPDIR:-/var/tmp}/fwt-$fresh_tag-logs-$stamp}   # the caller may have chosen one
  mkdir -p "$logs"
  root=$(mktemp -d "${TMPDIR:-/var/tmp}/fwt-$fresh_tag-root-XXXXXX")
  mounts=()   # mounted inside $root, in mount order
  envv=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM="${TERM:-dumb}")
  local v
  for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    [ -z "${!v:-}" ] || envv+=("$v=${!v}")
  done
  trap fresh_root_cleanup EXIT
  trap 'echo "$fresh_tag: interrupted" >&2; exit 130' INT TERM
}

fresh_root_kill_inside() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case $r in "$root"|"$root"/*) kill -9 "${p#/proc/}" 2>/dev/null || true ;; esac
  done
}

fresh_root_cleanup() {
  local rc=$? i busy=0
  trap - EXIT INT TERM
  fresh_root_kill_inside
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" 2>/dev/null ||
      { echo "$fresh_tag: cannot unmount ${mounts[i]}" >&2; busy=1; }
  done
  # Never delete through a mount that is still there (it would delete the host's /dev).
  if grep -q " ${root}[/ ]" /proc/self/mountinfo; then busy=1; fi
  if [ "$keep" -eq 1 ] || [ "$busy" -eq 1 ]; then
    fresh_say "root kept in $root"
  else
    rm -rf --one-file-system "$root"
  fi
  exit "$rc"
}

fresh_root_create() {
  local t0
  fresh_say "building a minimal Debian 12 root (mmdebstrap --variant=minbase bookworm, $mirror) in $root"
  t0=$(date +%s)
  mmdebstrap --variant=minbase --mode=root --format=directory "${aptopts[@]}" "$@" bookworm "$root" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main" \
    >"$logs/mmdebstrap.log" 2>&1 ||
    { tail -30 "$logs/mmdebstrap.log"; fresh_die "mmdebstrap failed (log: $logs/mmdebstrap.log)"; }
  fresh_say "root built in $(( $(date +%s) - t0 )) s: $(chroot "$root" dpkg-query -W -f='.\n' | wc -l) packages"
}

fresh_root_mount() {
  fresh_mnt() { mount "$@"; mounts+=("${*: -1}"); }
  fresh_mnt -t proc proc "$root/proc"
  fresh_mnt -t sysfs sysfs "$root/sys"
  fresh_mnt --bind /dev "$root/dev"
  fresh_mnt --bind /dev/pts "$root/dev/pts"
  fresh_mnt -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
}

fresh_root_run() {
  chroot "$root" /usr/bin/env -i "${envv[@]}" /bin/bash -c "$1" </dev/null
}
