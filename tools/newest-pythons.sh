#!/usr/bin/env bash
# The whole suite on the newest Pythons, 3.14 and 3.15, from Debian's own packages.
#
#   tools/newest-pythons.sh               # both; or name some: tools/newest-pythons.sh 3.15
#
# This machine's Pythons stop at 3.13, and no installer here reaches python.org. Debian's
# development suite (sid) packages 3.14 and 3.15, so the script builds a small sid root with
# Debian's mmdebstrap the first time (about 30 s), mounts this clone into it, and runs
# `make test` there with each Python and a venv of its own. Later runs reuse the root and the
# venvs. It needs root (chroot, mount), as CI and this machine have; on a laptop, install 3.15
# as usual and run `make test PYTHON=python3.15 VENV=.venv-3.15` instead.
#
# Any arguments after `--` go to pytest through make's TESTS variable, e.g.
#   tools/newest-pythons.sh 3.15 -- tests/test_timing.py
# Another make target than `test` runs the same way, e.g. the book with a 3.15 kernel:
#   NEWEST_PYTHONS_TARGET=run tools/newest-pythons.sh 3.15
set -euo pipefail
cd "$(dirname "$0")/.."
PROJECT=$(pwd)
ROOT=${NEWEST_PYTHONS_ROOT:-$PROJECT/.pythons/sid}

versions=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do versions+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#versions[@]} -gt 0 ] || versions=(3.14 3.15)
for version in "${versions[@]}"; do
    case "$version" in
        3.14|3.15) ;;
        *) echo "tools/newest-pythons.sh: Python $version is not built here; choose 3.14 or 3.15" >&2; exit 2 ;;
    esac
done
if [ "$(id -u)" != 0 ]; then
    echo "tools/newest-pythons.sh needs root (chroot and mount); without it, run" \
         "make test PYTHON=python3.15 VENV=.venv-3.15 with a Python 3.15 of your own" >&2
    exit 2
fi

# One run at a time: a second would share the mounts below, and unmount them under the first.
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9

if [ ! -e "$ROOT/.ready" ]; then
    command -v mmdebstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq mmdebstrap >/dev/null; }
    rm -rf "$ROOT"
    mkdir -p "$(dirname "$ROOT")"
    # The registry serves a snapshot of sid whose Release file is past its Valid-Until date.
    mmdebstrap --quiet --variant=minbase --aptopt='Acquire::Check-Valid-Until "false"' \
        --include=python3.14,python3.14-venv,python3.15,python3.15-venv,ca-certificates,make,git,procps \
        sid "$ROOT"
    touch "$ROOT/.ready"
fi
# pip inside the root resolves names and checks certificates with the host's settings.
cp /etc/resolv.conf /etc/hosts "$ROOT/etc/"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"

mkdir -p "$ROOT/project"
mounted=()
mount_once() {  # mount_once TARGET ARGS...: mount unless something is mounted there already
    local target=$1; shift
    if ! mountpoint -q "$target"; then mount "$@" "$target"; mounted=("$target" "${mounted[@]}"); fi
}
unmount_all() { for target in "${mounted[@]}"; do umount -l "$target" || true; done; }
trap unmount_all EXIT
mount_once "$ROOT/proc" -t proc proc
mount_once "$ROOT/dev/shm" -t tmpfs tmpfs   # multiprocessing's semaphores live here
mount_once "$ROOT/project" --bind "$PROJECT"

status=0
for version in "${versions[@]}"; do
    echo "== Python $version (Debian sid) =="
    # The host's pip settings name a wheel folder that does not exist inside the root.
    chroot "$ROOT" env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 PIP_FIND_LINKS= CI="${CI:-}" \
        make -C /project "${NEWEST_PYTHONS_TARGET:-test}" PYTHON="python$version" VENV=".venv-sid-$version" \
        TESTS="$*" || status=1
done
exit $status
