#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/foreign_zchunked.sh [RUNS]
#
# Cold first byte of one file through a zstd:chunked TOC against the same
# through a stratafs index, same content, same run, same registry. One
# plain GNU tar layer (2000 small files, a 48 MiB compressible file, the
# 1 MiB target file) is pushed twice from one OCI layout with skopeo:
#   zstd:chunked  --dest-compress-format zstd:chunked (the TOC pinned by
#                 the manifest's annotations); mounted by tag
#   stratafs      gzip, its index pushed and pinned with
#                 `strata index --push --tag` (not timed); mounted by the
#                 pinning index's digest
# Each run starts stratafs on an EMPTY cache and polls the target file
# until its first byte reads (tests/bench/bench.py ttfb). Prints the
# medians and the ratio zstd:chunked / stratafs (< 1: the TOC is faster).
# Needs BUILDDIR (default ./build); run as root (FUSE).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
STRATAFS=${STRATAFS:-$BUILDDIR/fs/stratafs}
RUNS=${1:-5}
PY=/usr/bin/python3
TARGET=opt/target.bin
export SRCDIR BUILDDIR
. "$SRCDIR/tests/harness/lib.sh"
. "$SRCDIR/tests/integration/formats/zchunked_lib.sh"
harness_init
W=$HARNESS_DIR

# the image: one plain tar layer in an OCI layout
T=$W/tree
mkdir -p "$T/small" "$T/opt" "$T/data"
for i in $(seq 1 2000); do printf 'file %d\n' "$i" >"$T/small/f$i"; done
/usr/bin/python3 - "$T/data/big.bin" <<'PY'
import random, sys
r = random.Random(7)
words = [bytes(r.choice(b"abcdefghij") for _ in range(r.randint(3, 9))) for _ in range(4096)]
with open(sys.argv[1], "wb") as f:
    for _ in range(48 * 16):
        f.write(b" ".join(r.choice(words) for _ in range(12000))[:65536].ljust(65536, b"."))
PY
_fx_rand bench-target $((1 << 20)) >"$T/$TARGET"
L=$W/layout
umoci init --layout "$L" >/dev/null
umoci new --image "$L:zc"
_zc_add_layer "$L" "$T"

registry_start plain
skopeo copy --quiet --dest-compress --dest-compress-format zstd:chunked "${SKOPEO_DEST_OPTS[@]}" \
	"oci:$L:zc" "docker://$REGISTRY/bench/zc:v1"
skopeo copy --quiet --dest-compress "${SKOPEO_DEST_OPTS[@]}" "oci:$L:zc" "docker://$REGISTRY/bench/gz:v1"
PINNED=$("$STRATA" index "$REGISTRY/bench/gz:v1" --push --tag pinned --insecure -q --json \
	--cache "$W/c-index" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["pinned"])')

# ttfb REF: seconds from starting stratafs (empty cache) to the target's first byte
ttfb() {
	local mnt=$W/mnt cache out
	cache=$(mktemp -d "$W/cache.XXXXXX")
	mkdir -p "$mnt"
	out=$("$PY" "$HERE/bench.py" ttfb --file "$mnt/$TARGET" --timeout 120 --log "$W/stratafs.log" -- \
		"$STRATAFS" "$1" "$mnt" -f -o "insecure,cache=$cache") || true
	[ "${out%% *}" != FAIL ] && [ -n "$out" ] || {
		tail -20 "$W/stratafs.log" >&2
		harness_fail "stratafs $1"
	}
	# shellcheck disable=SC2016
	"$STRATA" stats --json "$mnt" | jq -r '[.layers[].index_format] | join(",")' >"$W/source"
	fusermount3 -u "$mnt"
	for _ in $(seq 1 250); do kill -0 "${out#* }" 2>/dev/null || break; sleep 0.02; done
	rm -rf "$cache"
	echo "${out%% *}"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

zc=() st=()
for i in $(seq 1 "$RUNS"); do
	zc+=("$(ttfb "$REGISTRY/bench/zc:v1")")
	[ "$(cat "$W/source")" = zstd:chunked ] || harness_fail "the zstd:chunked mount used $(cat "$W/source")"
	st+=("$(ttfb "$PINNED")")
	[ "$(cat "$W/source")" = stratafs ] || harness_fail "the pinned mount used $(cat "$W/source")"
done
zm=$(median "${zc[@]}")
sm=$(median "${st[@]}")
printf '%-58s %8s s\n' "cold first byte, zstd:chunked TOC pinned by the manifest" "$zm" \
	"cold first byte, stratafs index pinned in the registry" "$sm"
printf 'ratio zstd:chunked / stratafs: %s (runs: zstd:chunked %s; stratafs %s)\n' \
	"$(awk -v a="$zm" -v b="$sm" 'BEGIN {printf "%.2f", a / b}')" "${zc[*]}" "${st[*]}"
