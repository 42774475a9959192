#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/mount_scale.sh [N ...] [-- OTHER_BUILDDIR]
#
# Mount time against image size (issue 15): for each N (default 10000
# 100000 500000) a one-layer image of N small files in nested dirs
# (d<i>/s<j>/f<k>: 100 files per leaf dir, 100 leaf dirs per top dir) is
# pushed with `strata push` (layer + index), then mounted on an empty cache
# and timed from the daemon's start to the first successful stat of the
# deepest file; the daemon's "mounted ... in N ms" and its VmHWM after that
# stat are printed beside it. With a second build dir after "--", each
# image is mounted with both builds (e.g. main's), side by side.
#
# Needs BUILDDIR (default ./build) with fs/stratafs and tools/strata. Trees
# are generated once in $BENCH_CACHE (default /var/tmp/stratafs-bench) and
# the files are empty (the entry count is what is measured). Starts its own
# registry (plain HTTP) through tests/harness. Run as root (FUSE).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
BENCH_CACHE=${BENCH_CACHE:-/var/tmp/stratafs-bench}
RUNS=${RUNS:-3}
SIZES=()
OTHER=""
while [ $# -gt 0 ]; do
	case "$1" in
	--) OTHER=$(cd "$2" && pwd); shift ;;
	*) SIZES+=("$1") ;;
	esac
	shift
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000 500000)
export SRCDIR BUILDDIR STRATA
[ -x "$STRATA" ] || { echo "mount_scale: no strata at $STRATA" >&2; exit 1; }

. "$SRCDIR/tests/harness/lib.sh"
harness_init
registry_start plain

# gen N: a tree of N files, its deepest file's path on stdout
gen() {
	local n=$1 dir="$BENCH_CACHE/scale-$1"
	if [ ! -f "$dir.done" ]; then
		rm -rf "$dir"
		/usr/bin/python3 - "$dir" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    leaf = os.path.join(root, "d%04d" % (i // 10000), "s%02d" % (i // 100 % 100))
    if i % 100 == 0:
        os.makedirs(leaf)
    open(os.path.join(leaf, "f%02d" % (i % 100)), "w").close()
PY
		touch "$dir.done"
	fi
	local last=$((n - 1))
	printf 'd%04d/s%02d/f%02d\n' $((last / 10000)) $((last / 100 % 100)) $((last % 100))
}

# one BUILD REF FILE: "ms_to_stat mounted_ms vmhwm_kib" of one cold mount
one() {
	local build=$1 ref=$2 file=$3 mnt="$HARNESS_DIR/mnt" cache="$HARNESS_DIR/cache" log t0 t1 pid
	rm -rf "$cache" && mkdir -p "$mnt" "$cache"
	log="$HARNESS_DIR/daemon.log"
	t0=$EPOCHREALTIME
	"$build/fs/stratafs" "$REGISTRY/$ref" "$mnt" -o "insecure,cache=$cache,prefetch=none" \
		2>"$log" || { cat "$log" >&2; return 1; }
	until stat "$mnt/$file" >/dev/null 2>&1; do sleep 0.001; done
	t1=$EPOCHREALTIME
	pid=$(pgrep -n -x stratafs)
	local hwm
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
	fusermount3 -u "$mnt"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
	local ms
	ms=$(grep -o 'in [0-9]* ms' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
	awk -v a="$t0" -v b="$t1" -v m="$ms" -v h="$hwm" 'BEGIN { printf "%.0f %s %d\n", (b - a) * 1000, m, h }'
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-8s %-8s %12s %12s %12s\n' entries build first_stat_ms mounted_ms VmHWM_MiB
for n in "${SIZES[@]}"; do
	file=$(gen "$n")
	ref="scale/n$n:latest"
	"$STRATA" push "$BENCH_CACHE/scale-$n" "$REGISTRY/$ref" --insecure -q >/dev/null
	for build in "$BUILDDIR" $OTHER; do
		fs=() ms=() hw=()
		for _ in $(seq 1 "$RUNS"); do
			read -r a b c < <(one "$build" "$ref" "$file")
			fs+=("$a") ms+=("$b") hw+=("$c")
		done
		name=$([ "$build" = "$BUILDDIR" ] && echo this || echo other)
		printf '%-8s %-8s %12s %12s %12s\n' "$n" "$name" "$(median "${fs[@]}")" \
			"$(median "${ms[@]}")" "$(awk -v k="$(median "${hw[@]}")" 'BEGIN { printf "%.1f", k / 1024 }')"
	done
done
