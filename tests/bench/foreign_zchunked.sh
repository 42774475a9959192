#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/bench/foreign_zchunked.sh [--full] [--runs N]
#
# Cold first byte of one file through zstd:chunked TOCs against the same
# through pinned stratafs indexes: the benchmark image of gen.sh (quick:
# 4 layers, ~200 MiB, 20k entries; --full: ~1 GiB), same content, same run,
# same registry.
#   stratafs      bench:full as gen.sh made it (gzip, umoci), its indexes
#                 pushed and pinned by `strata index --push --tag` (not
#                 timed); mounted by the pinning index's digest
#   zstd:chunked  the same layers recompressed by skopeo 1.9.3 with
#                 --dest-compress-format zstd:chunked (not timed; the
#                 layers are first made plain tars that end after their
#                 end-of-archive blocks, which containers/storage 1.43
#                 needs: zchunked_lib.sh); mounted by tag, every TOC pinned
#                 by the manifest
# Each run starts stratafs on an EMPTY cache and polls the file until its
# first byte reads (tests/bench/bench.py ttfb). Files: the 1 MiB + 4097 B
# target of data-b, and a small file of the 20k-entry layer. Prints the
# medians and the ratio stratafs / zstd:chunked (> 1: the TOC is faster).
# Needs BUILDDIR (default ./build); run as root (FUSE).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$HERE/../.." && pwd)
BUILDDIR=${BUILDDIR:-$SRCDIR/build}
STRATA=${STRATA:-$BUILDDIR/tools/strata}
STRATAFS=${STRATAFS:-$BUILDDIR/fs/stratafs}
. "$HERE/lib_data.sh"
bench_args "$@"
PY=/usr/bin/python3
TARGET=opt/data-b/m-050-target.bin
export SRCDIR BUILDDIR
. "$SRCDIR/tests/harness/lib.sh"
. "$SRCDIR/tests/integration/formats/zchunked_lib.sh"
harness_init
W=$HARNESS_DIR

DATA=$(bench_data "$MODE")
SRC=$DATA/layout
MAN=$SRC/blobs/sha256/$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "full") | .digest' "$SRC/index.json" | cut -d: -f2)
SMALL_LAYER=$(jq -r '.layers[] | select(.role == "small") | .digest' "$DATA/meta.json")
# the first regular file of the small-files layer (awk reads to the end: no SIGPIPE)
SMALL=$(tar -tvzf "$SRC/blobs/sha256/${SMALL_LAYER#sha256:}" |
	awk '!f && /^-/ && $6 ~ /usr\/share\/bench\/s\// {sub(/^\.\//, "", $6); print $6; f = 1}')

# the zstd:chunked copy: each gzip layer as a plain tar ending after its
# end-of-archive blocks (umoci writes neither them nor the last padding)
L=$W/layout
umoci init --layout "$L" >/dev/null
umoci new --image "$L:zc"
for d in $(jq -r '.layers[].digest' "$MAN"); do
	t=$(mktemp "$L/layer.XXXXXX")
	gzip -dc "$SRC/blobs/sha256/${d#sha256:}" >"$t"
	s=$(stat -c %s "$t")
	head -c $(((512 - s % 512) % 512 + 1024)) /dev/zero >>"$t"
	_zc_add_tar "$L" "$t"
done

registry_start plain
skopeo copy --quiet --dest-compress --dest-compress-format zstd:chunked "${SKOPEO_DEST_OPTS[@]}" \
	"oci:$L:zc" "docker://$REGISTRY/bench/zc:v1"
skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$SRC:full" "docker://$REGISTRY/bench/gz:v1"
PINNED=$("$STRATA" index "$REGISTRY/bench/gz:v1" --push --tag pinned --insecure -q --json \
	--cache "$W/c-index" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["pinned"])')

# ttfb REF FILE: seconds from starting stratafs (empty cache) to FILE's first byte
ttfb() {
	local mnt=$W/mnt cache out
	cache=$(mktemp -d "$W/cache.XXXXXX")
	mkdir -p "$mnt"
	out=$("$PY" "$HERE/bench.py" ttfb --file "$mnt/$2" --timeout 120 --log "$W/stratafs.log" -- \
		"$STRATAFS" "$1" "$mnt" -f -o "insecure,cache=$cache") || true
	[ "${out%% *}" != FAIL ] && [ -n "$out" ] || {
		tail -20 "$W/stratafs.log" >&2
		harness_fail "stratafs $1"
	}
	"$STRATA" stats --json "$mnt" | jq -r '[.layers[].index_format] | unique | join(",")' >"$W/format"
	fusermount3 -u "$mnt"
	for _ in $(seq 1 250); do kill -0 "${out#* }" 2>/dev/null || break; sleep 0.02; done
	rm -rf "$cache"
	echo "${out%% *}"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for f in "$TARGET" "$SMALL"; do
	zc=() st=()
	for _ in $(seq 1 "$RUNS"); do
		zc+=("$(ttfb "$REGISTRY/bench/zc:v1" "$f")")
		[ "$(cat "$W/format")" = zstd:chunked ] || harness_fail "the zstd:chunked mount used $(cat "$W/format")"
		st+=("$(ttfb "$PINNED" "$f")")
		[ "$(cat "$W/format")" = stratafs ] || harness_fail "the pinned mount used $(cat "$W/format")"
	done
	zm=$(median "${zc[@]}")
	sm=$(median "${st[@]}")
	printf 'cold first byte of %s (%s image, medians of %d)\n' "$f" "$MODE" "$RUNS"
	printf '  stratafs pinned indexes %8s s   zstd:chunked TOCs %8s s   ratio stratafs / zstd:chunked %s\n' \
		"$sm" "$zm" "$(awk -v a="$sm" -v b="$zm" 'BEGIN {printf "%.2f", a / b}')"
	printf '  runs: stratafs %s; zstd:chunked %s\n' "${st[*]}" "${zc[*]}"
done
