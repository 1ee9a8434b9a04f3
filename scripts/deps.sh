#!/bin/sh
# scripts/deps.sh - install every Debian package streamrec builds, tests or
# runs with. Idempotent: installs only what is missing, and says so.
#   scripts/deps.sh          install what is missing (apt-get; root or sudo)
#   scripts/deps.sh --check  exit 1 and list what is missing, install nothing
set -eu

PACKAGES="build-essential pkg-config gzip
librdkafka-dev libavro-dev libhiredis-dev libopenblas-dev check
libinih-dev libjansson-dev zlib1g-dev libxxhash-dev
redis-server kcat clang clang-format jq"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    echo "missing packages:$missing" >&2
    exit 1
fi

echo "deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "deps: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "deps: done" >&2
