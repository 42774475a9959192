#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/zstd.sh [--full] [--against BUILDDIR2]
#
# One large file of a single-frame zstd layer (one zstd frame, as the zstd
# CLI and BuildKit write it) through a stratafs mount, against
# `curl BLOB | zstd -dc` of the whole layer, side by side in one run:
#
#   layer (quick): a-pre/ 60 MiB of small files, m-big.bin 100 MiB (half
#   random, half text), z-post/ 40 MiB; zstd -3, one frame. --full: x2.5.
#
# The index is pushed beforehand (`strata index --push`, not timed), each
# mount starts with an empty span cache. Prints, per run and as medians:
# the mount's wall time to read m-big.bin (cat >/dev/null), the baseline's wall time,
# their ratio (target >= 0.9: the mount is not slower than curl | zstd
# by more than 10 %), and the layer bytes the mount fetched (registry
# access log) over the blob size (target <= 1.05).
# RUNS (default 3) runs; FS_OPTS adds mount options (e.g. mem_max=64M).
# --against BUILDDIR2: each run also reads through BUILDDIR2's stratafs
# (another commit's build), right after BUILDDIR's, and both are printed
# against the same baselines: on a shared machine whose speed drifts
# within minutes, only runs interleaved like this compare two builds.
# Needs BUILDDIR (default ./build); run as root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
STRATAFS=${STRATAFS:-$BUILDDIR/fs/stratafs}
RUNS=${RUNS:-3}
SCALE=2
AGAINST=
while [ $# -gt 0 ]; do
	case "$1" in
	--full) SCALE=5 ;;
	--against) AGAINST=$(cd "$2" && pwd) || exit 2; shift ;;
	*) echo "zstd bench: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
[ -z "$AGAINST" ] || [ -x "$AGAINST/fs/stratafs" ] ||
	{ echo "zstd bench: no fs/stratafs in '$AGAINST'" >&2; exit 2; }
export SRCDIR BUILDDIR STRATA STRATAFS
for t in curl zstd jq; do
	command -v "$t" >/dev/null || { echo "zstd bench: $t is not installed" >&2; exit 1; }
done

. "$SRCDIR/tests/harness/lib.sh"
. "$SRCDIR/tests/integration/fs/zstd_lib.sh"
harness_init
registry_start plain
W="$HARNESS_DIR/w"
mkdir -p "$W/src/a-pre" "$W/src/z-post"

# the tree (deterministic, generated per run: ~1 s per 100 MiB)
mib() { echo $(($1 * SCALE * 1048576 / 2)); }
for i in $(seq 1 60); do _fx_rand "zb-pre-$i" $(($(mib 60) / 60)) >"$W/src/a-pre/s$i"; done
{ _fx_rand zb-big "$(mib 50)"; _fx_text $(($(mib 50) / 62)); } >"$W/src/m-big.bin"
for i in $(seq 1 40); do _fx_text $(($(mib 40) / 40 / 62)) >"$W/src/z-post/t$i"; done
zstd_push_single "$W/src" bench/zs:1 || { echo "zstd bench: push failed" >&2; exit 1; }
"$STRATA" index "$REGISTRY/bench/zs:1" --push --insecure --cache "$W/c0" >/dev/null 2>&1 ||
	{ echo "zstd bench: strata index --push failed" >&2; exit 1; }
BIG=$(stat -c %s "$W/src/m-big.bin")
WANT=$(sha256sum <"$W/src/m-big.bin")
URL="$REGISTRY_URL/v2/bench/zs/blobs/$ZS_DIGEST"
printf 'layer: %d bytes compressed (one frame), %d bytes tar; m-big.bin %d bytes\n' \
	"$ZS_SIZE" "$(stat -c %s "$ZS_TAR")" "$BIG"

now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
M="$W/mnt"
mkdir -p "$M"
harness_on_exit "fusermount3 -u -z '$M' 2>/dev/null"
: >"$W/t_base"
: >"$W/t_fs"
: >"$W/t_against"
: >"$W/bytes"
# read_big STRATAFS OUT: mount with an empty span cache, time cat m-big.bin into OUT
read_big() {
	local t0 t1
	rm -rf "$W/cache"
	sync
	"$1" "$REGISTRY/bench/zs:1" "$M" -o "insecure,cache=$W/cache${FS_OPTS:+,$FS_OPTS}"
	ls "$M" >/dev/null
	t0=$(now)
	cat "$M/m-big.bin" >/dev/null
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$2"
}
for r in $(seq 1 "$RUNS"); do
	# the last run's span cache is 200 MB of dirty pages: gone, and its
	# writeback done, before anything is timed, so that no run pays another's
	rm -rf "$W/cache"
	sync
	t0=$(now)
	curl -sf "$URL" | zstd -dc >/dev/null
	t1=$(now)
	echo "$t1 - $t0" | bc >>"$W/t_base"
	registry_log_mark
	read_big "$STRATAFS" "$W/t_fs"
	got=$(sha256sum <"$M/m-big.bin") # again, from the span cache: not timed
	[ "$got" = "$WANT" ] || { echo "zstd bench: m-big.bin differs through the mount" >&2; exit 1; }
	registry_bytes_served "$ZS_DIGEST" >>"$W/bytes"
	"$STRATA" stats "$M" | sed -n '/layer/,/total/p' >"$W/stats.$r"
	fusermount3 -u "$M"
	sleep 0.5
	printf 'run %d: curl|zstd -dc %.2f s   mount (cat m-big.bin) %.2f s   %d bytes fetched\n' \
		"$r" "$(tail -1 "$W/t_base")" "$(tail -1 "$W/t_fs")" "$(tail -1 "$W/bytes")"
	if [ -n "$AGAINST" ]; then
		read_big "$AGAINST/fs/stratafs" "$W/t_against"
		[ "$(sha256sum <"$M/m-big.bin")" = "$WANT" ] ||
			{ echo "zstd bench: m-big.bin differs through the other build's mount" >&2; exit 1; }
		fusermount3 -u "$M"
		sleep 0.5
		printf 'run %d: the other build (cat m-big.bin) %.2f s\n' "$r" "$(tail -1 "$W/t_against")"
	fi
done
TB=$(median <"$W/t_base")
TF=$(median <"$W/t_fs")
BY=$(median <"$W/bytes")
cat "$W/stats.$RUNS"
printf '\nsingle-frame zstd, one large file   curl|zstd -dc %.2f s   stratafs %.2f s   time ratio %.2f (target >= 0.9)\n' \
	"$TB" "$TF" "$(echo "$TB / $TF" | bc -l)"
printf 'bytes fetched %d of a %d-byte layer: ratio %.3f (target <= 1.05)\n' \
	"$BY" "$ZS_SIZE" "$(echo "$BY / $ZS_SIZE" | bc -l)"
if [ -n "$AGAINST" ]; then
	TA=$(median <"$W/t_against")
	printf 'interleaved: %s %.3f s (ratio %.2f), %s %.3f s (ratio %.2f), same baselines\n' \
		"$BUILDDIR" "$TF" "$(echo "$TB / $TF" | bc -l)" "$AGAINST" "$TA" "$(echo "$TB / $TA" | bc -l)"
fi
