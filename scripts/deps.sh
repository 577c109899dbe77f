#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing.
# Usage: scripts/deps.sh [--bench] [--slurm]
#   --bench adds the peers bench/ compares; --slurm adds Slurm and munge for
#   the Slurm test (tests/slurm/slurm.sh starts its own daemons).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libevent-dev libnanomsg-dev
      libcmocka-dev libcurl4-openssl-dev libjansson-dev libssl-dev zlib1g-dev
      libnghttp2-dev libbrotli-dev libzstd-dev # http_decode.c (zlib: above)
      python3-dev python3-pytest # python/: the mpool module and its suite
      python3-httpbin # test_http_redirect: httpbin's redirects on both engines
      python3-h2 # tools/h2reset: HTTP/2 streams reset on purpose
      nginx-light libnginx-mod-http-echo libnginx-mod-stream openssl curl
      clang libclang-rt-14-dev # clang + libclang-rt: scripts/fuzz.sh; clang: check_arch
      universal-ctags) # tests/check_symbols.sh: names outside the library
for arg in "$@"; do
  case $arg in
    --bench) pkgs+=(wrk python3 python3-aiohttp hyperfine)
             pkgs+=(dnsmasq-base) # bench/manyhosts, bench/crawl: a DNS server for *.test
             pkgs+=(wget2) ;; # bench/crawl: the third crawler
    --slurm) pkgs+=(slurm-wlm munge) ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Several builds may run this at once: wait for apt's locks, don't fail.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 \
    install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# nginx from the package starts a system instance; the tests run their own.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
# Likewise Slurm's daemons: the Slurm test starts its own, on its own ports.
if command -v systemctl >/dev/null 2>&1 && [ -e /lib/systemd/system/slurmd.service ]; then
  systemctl disable --now slurmctld slurmd >/dev/null 2>&1 || true
fi
