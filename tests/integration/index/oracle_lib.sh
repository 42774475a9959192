#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What the tar oracle tests (tar_oracle.sh, tar_features.sh) share: their
# tools, TAP counters and checks. Sourced; `oracle_init NAME` makes $T, a
# temp dir removed at exit. Root is required (owners, devices, xattrs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILDDIR=${BUILDDIR:?BUILDDIR is not set}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
DUMP=$BUILDDIR/tests/unit/index/test_index_tar_dump
WALK="/usr/bin/python3 $HERE/tar_walk.py"
PY=/usr/bin/python3

n=0
failed=0
ok() {
	n=$((n + 1))
	echo "ok $n - $*"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $*"
}
bail() {
	echo "Bail out! $*"
	exit 1
}

oracle_init() { # NAME
	[ "$(id -u)" -eq 0 ] || bail "$1 must run as root (owners, devices, xattrs)"
	[ -x "$DUMP" ] || bail "missing $DUMP (build the tests)"
	[ -x "$STRATA" ] || bail "missing $STRATA"
	T=$(mktemp -d "/tmp/stratafs-$1.XXXXXX")
	trap 'rm -rf "$T"' EXIT
}

# meta_files DIR: DIR/xattrs (a text and a binary user xattr) and DIR/owned
# (1234:5678, an mtime with nanoseconds): what tars carry beyond ustar.
meta_files() {
	echo x >"$1/xattrs"
	setfattr -n user.one -v 1 "$1/xattrs"
	setfattr -n user.bin -v 0x00ff00 "$1/xattrs"
	echo own >"$1/owned"
	chown 1234:5678 "$1/owned"
	touch -d '2020-02-03 04:05:06.123456789' "$1/owned"
}
