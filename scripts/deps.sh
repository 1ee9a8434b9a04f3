#!/bin/sh
# scripts/deps.sh - install every Debian package streamrec builds, tests or
# runs with. Idempotent: installs only what is missing, and says so.
#   scripts/deps.sh          install what is missing (apt-get; root or sudo)
#   scripts/deps.sh --check  exit 1 and list what is missing, install nothing
#   scripts/deps.sh --list build|all  print the package names, one a line
#                            (build: what `make` needs; docker/Dockerfile's
#                            build stage installs exactly these, tested)
set -eu

# What `make` needs to build build/streamrec.
BUILD_PACKAGES="build-essential pkg-config
librdkafka-dev libavro-dev libhiredis-dev libopenblas-dev check
libinih-dev libjansson-dev zlib1g-dev libxxhash-dev"
# What the tests, the demo and the tools around them need as well
# (python3-yaml: tests/e2e/docker_lint.sh parses docker/compose.yaml;
# libclang-rt-14-dev: libFuzzer for make test-fuzz, only recommended by clang).
TOOL_PACKAGES="gzip redis-server kcat clang libclang-rt-14-dev clang-format jq python3-yaml"
PACKAGES="$BUILD_PACKAGES $TOOL_PACKAGES"

if [ "${1:-}" = "--list" ]; then
    # shellcheck disable=SC2086
    case "${2:-}" in
    build) printf '%s\n' $BUILD_PACKAGES ;;
    all) printf '%s\n' $PACKAGES ;;
    *) echo "usage: scripts/deps.sh --list build|all" >&2; exit 2 ;;
    esac
    exit 0
fi

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
