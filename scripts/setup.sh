#!/usr/bin/env bash
# Runs before `npm test`, `npm run demo` and `npm run stack:up`: installs what is missing, and is
# quiet and quick (no network) when nothing is.
#   - Debian packages for the local Ceph RGW, ffmpeg and the AWS CLI: installed with apt-get when
#     running as root, otherwise named in a message (and the script fails).
#   - node_modules: `npm ci` when it is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(ceph-mon ceph-osd radosgw ceph-common ffmpeg awscli)
# The binaries the stack runs, each from one of the packages above. aws is checked at its Debian
# path: a pyenv or pip `aws` earlier on PATH is not the one apt installs.
BINARIES=(ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool ffmpeg /usr/bin/aws)

missing=()
for binary in "${BINARIES[@]}"; do
  command -v "$binary" >/dev/null 2>&1 || missing+=("$(basename "$binary")")
done

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${missing[*]}: installing ${PACKAGES[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  else
    echo "setup: missing ${missing[*]}." >&2
    echo "setup: install the Debian packages as root:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

# npm writes node_modules/.package-lock.json on every install: older than the lock file means the
# dependencies changed since.
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: node_modules missing or older than package-lock.json: npm ci" >&2
  npm ci --no-audit --no-fund
fi

# The function and the trigger start from bundles (no TypeScript compile at each start): ~0.1 s.
npm run --silent build
