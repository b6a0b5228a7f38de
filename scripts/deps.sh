#!/usr/bin/env bash
# Installs the Debian packages libfwtrain needs, only if some are missing.
# Idempotent and quiet when everything is present.
set -euo pipefail
pkgs=(cmake make gcc g++ clang pkg-config valgrind python3
      libcurl4-openssl-dev libcjson-dev libssl-dev libcmocka-dev
      libmicrohttpd-dev libzstd-dev zlib1g-dev doxygen abigail-tools)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
