#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/push.sh [SIZE_MB]
#
# strata push throughput against the plain way of pushing the same tree
# (tar -c | gzip -6, then a POST upload session and one PUT ?digest= with
# curl), gzip and zstd, and the size overhead of the seekable gzip (a
# member per 4 MiB span) against `gzip -6` of the very same tar. Prints the
# numbers and the ratios; the target for the overhead is <= 3 %.
#
# Needs BUILDDIR (default ./build) with tools/strata. The tree (~SIZE_MB,
# default 200, files copied from /usr: binaries, libraries, text) is built
# once in $BENCH_CACHE (default /var/tmp/stratafs-bench). Starts its own
# registry (plain HTTP) through tests/harness.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
SIZE_MB=${1:-200}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/stratafs-bench}
export SRCDIR BUILDDIR STRATA
[ -x "$STRATA" ] || { echo "push bench: no strata at $STRATA" >&2; exit 1; }

. "$SRCDIR/tests/harness/lib.sh"
harness_init
registry_start plain

TREE="$BENCH_CACHE/push-tree-${SIZE_MB}m"
if [ ! -f "$TREE.done" ]; then
	rm -rf "$TREE" && mkdir -p "$TREE"
	# regular files from /usr up to SIZE_MB, sorted so the tree is the same each time
	find /usr/lib /usr/share /usr/bin -xdev -type f -size -16M -printf '%s %p\n' 2>/dev/null |
		sort -k2 >"$HARNESS_DIR/all.txt" || true
	awk -v max=$((SIZE_MB * 1024 * 1024)) '{ t += $1; if (t > max) exit; sub(/^[0-9]+ /, ""); print }' \
		"$HARNESS_DIR/all.txt" >"$HARNESS_DIR/files.txt"
	tar -c -T "$HARNESS_DIR/files.txt" 2>/dev/null | tar -x -C "$TREE"
	touch "$TREE.done"
fi
TREE_BYTES=$(du -sb "$TREE" | cut -f1)


# The machine may be shared: wall time and CPU time (user+sys of the
# children) of each contender, measured by bash's `time`.
TIMEFORMAT='%R %U %S'
timed() { # VAR CMD...: "wall cpu" in VAR
	local var=$1 t
	shift
	t=$( { time "$@" >/dev/null 2>&1; } 2>&1 | tail -1)
	printf -v "$var" '%s' "$(awk '{ printf "%.2f %.2f", $1, $2 + $3 }' <<<"$t")"
}

# ---- the baseline: tar | gzip, then POST + PUT ?digest= with curl ----
baseline() {
	local dg loc put code
	tar -c -C "$TREE" . | gzip -6 >"$HARNESS_DIR/plain.tgz"
	dg="sha256:$(sha256sum "$HARNESS_DIR/plain.tgz" | cut -c1-64)"
	loc=$(curl -sS -D - -o /dev/null -X POST "$REGISTRY_URL/v2/base/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	case "$loc" in http*) ;; *) loc="$REGISTRY_URL$loc" ;; esac
	case "$loc" in *\?*) put="$loc&digest=${dg/:/%3A}" ;; *) put="$loc?digest=${dg/:/%3A}" ;; esac
	code=$(curl -sS -o /dev/null -w '%{http_code}' -T "$HARNESS_DIR/plain.tgz" \
		-H 'Content-Type: application/octet-stream' "$put")
	[ "$code" = 201 ] || { echo "push bench: baseline PUT answered $code" >&2; return 1; }
}
timed T_BASE baseline

# ---- strata push, gzip and zstd ----
run_push() { # TAG OPTS...: JSON in $HARNESS_DIR/TAG.json
	local tag=$1
	shift
	"$STRATA" push "$TREE" "$REGISTRY/bench-$tag:$tag" --insecure --json "$@" >"$HARNESS_DIR/$tag.json"
}
timed T_GZ run_push gz
timed T_GZ1 run_push gz1 --threads 1
timed T_ZS run_push zs --compression zstd

# ---- size: seekable gzip vs gzip -6 of the same tar ----
LAYER=$(jq -r .layer "$HARNESS_DIR/gz.json")
curl -sS -o "$HARNESS_DIR/seekable.tgz" "$REGISTRY_URL/v2/bench-gz/blobs/$LAYER"
SEEK_SIZE=$(stat -c %s "$HARNESS_DIR/seekable.tgz")
PLAIN_SIZE=$(gzip -dc "$HARNESS_DIR/seekable.tgz" | gzip -6 | wc -c)
ZS_SIZE=$(jq -r .layer_size "$HARNESS_DIR/zs.json")
TAR_SIZE=$(jq -r .tar_size "$HARNESS_DIR/gz.json")

mb() { echo "scale=1; $1 / 1000000" | bc -l; }
wall() { echo "${1% *}"; }
cpu() { echo "${1#* }"; }
rate() { echo "scale=1; $TAR_SIZE / $(wall "$1") / 1000000" | bc -l; }
line() { printf '%-44s %8.2f s wall %8.2f s cpu  %7s MB/s of tar\n' "$1" "$(wall "$2")" "$(cpu "$2")" "$(rate "$2")"; }
ratio() { printf 'ratio %-34s wall %.2f  cpu %.2f  (< 1: strata is cheaper)\n' "$1" \
	"$(echo "$(wall "$2") / $(wall "$T_BASE")" | bc -l)" "$(echo "$(cpu "$2") / $(cpu "$T_BASE")" | bc -l)"; }
printf 'tree: %s MB in %s (tar %s MB), %s CPUs\n' "$(mb "$TREE_BYTES")" "$TREE" "$(mb "$TAR_SIZE")" "$(nproc)"
line "baseline: tar | gzip -6 + curl POST/PUT" "$T_BASE"
line "strata push (gzip, seekable)" "$T_GZ"
line "strata push (gzip, seekable) --threads 1" "$T_GZ1"
line "strata push --compression zstd" "$T_ZS"
ratio "push gzip / baseline" "$T_GZ"
ratio "push gzip --threads 1 / baseline" "$T_GZ1"
ratio "push zstd / baseline" "$T_ZS"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
[ "$(jq -r .layer "$HARNESS_DIR/gz1.json")" = "$(jq -r .layer "$HARNESS_DIR/gz.json")" ] ||
	echo "push bench: WARNING: --threads 1 gave another layer digest" >&2
printf 'sizes: seekable gzip %s MB, gzip -6 of the same tar %s MB, zstd %s MB\n' \
	"$(mb "$SEEK_SIZE")" "$(mb "$PLAIN_SIZE")" "$(mb "$ZS_SIZE")"
OVER=$(echo "($SEEK_SIZE - $PLAIN_SIZE) * 100 / $PLAIN_SIZE" | bc -l)
printf 'seekable gzip overhead: %.2f %% (target <= 3 %%): %s\n' "$OVER" \
	"$(echo "$OVER <= 3" | bc -l | sed 's/1/PASS/; s/0/FAIL/')"
