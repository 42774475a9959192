#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# zstd:chunked at the index level, on layers written by Debian's skopeo
# 1.9.3 (zchunked_lib.sh): what skopeo writes (media type, the 1.43
# annotations, the 40-byte footer, the checksum = sha256 of the compressed
# TOC), then each layer read through its TOC equals the same blob streamed
# as tar+zstd by idx_build() (test_index_zchunked_check: entries, metadata,
# xattrs, every file's bytes with every chunk verified). Then TOCs forged
# from the real one (zchunked_forge.py): a wrong chunkDigest or file digest
# is never served (the read fails), and inconsistent TOCs are refused with
# a message that says why.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
. "$SRCDIR/tests/integration/formats/zchunked_lib.sh"
CHECK=$BUILDDIR/tests/unit/index/test_index_zchunked_check
FORGE="/usr/bin/python3 $SRCDIR/tests/integration/formats/zchunked_forge.py"
harness_init
[ -x "$CHECK" ] || harness_fail "missing $CHECK (build the tests)"
registry_start plain

zc_push zc/toc:v1 || harness_fail "skopeo cannot push the zstd:chunked fixture"
P=$HARNESS_DIR/pulled
skopeo copy --quiet "${SKOPEO_SRC_OPTS[@]}" "docker://$REGISTRY/zc/toc:v1" "dir:$P" ||
	harness_fail "cannot pull the fixture back"
M=$P/manifest.json

tap_is "$(jq -r '[.layers[].mediaType] | unique | join(",")' "$M")" \
	application/vnd.oci.image.layer.v1.tar+zstd "skopeo writes tar+zstd layers"
tap_is "$(jq -r '[.layers[].annotations | keys[]] | unique | join(",")' "$M")" \
	"io.containers.zstd-chunked.manifest-checksum,io.containers.zstd-chunked.manifest-position" "with the containers/storage 1.43 annotations (checksum, position)"

n=0
for d in $(jq -r '.layers[].digest' "$M"); do
	b=$P/${d#sha256:}
	pos=$(jq -r --arg d "$d" '.layers[] | select(.digest == $d) | .annotations["io.containers.zstd-chunked.manifest-position"]' "$M")
	sum=$(jq -r --arg d "$d" '.layers[] | select(.digest == $d) | .annotations["io.containers.zstd-chunked.manifest-checksum"]' "$M")
	IFS=: read -r off len _ _ <<<"$pos"
	tap_is "$(tail -c 48 "$b" | od -A n -t x1 | tr -d ' \n' | cut -c1-16)" 502a4d1828000000 \
		"layer $n: the footer is a 40-byte skippable frame"
	tap_is "sha256:$(tail -c +$((off + 1)) "$b" | head -c "$len" | sha256sum | cut -c1-64)" "$sum" \
		"layer $n: the checksum annotation is the sha256 of the compressed TOC"
	tap_ok "layer $n: read through its TOC equals the blob streamed as tar+zstd" "$CHECK" "$b" "$pos"
	n=$((n + 1))
done
L0=$P/$(jq -r '.layers[0].digest' "$M" | cut -d: -f2)
POS0=$(jq -r '.layers[0].annotations["io.containers.zstd-chunked.manifest-position"]' "$M")
tap_ok "layer 0 has files of several chunks and a zeros chunk (a hole)" \
	bash -c "tail -c +$((${POS0%%:*} + 1)) '$L0' | head -c $(cut -d: -f2 <<<"$POS0") | zstd -dc |
		jq -e '[.entries[] | select(.type == \"chunk\")] | length > 50 and (map(.chunkType) | index(\"zeros\") != null)' >/dev/null"

# forge KIND ARG WANT DESC: a TOC rewritten; the checker must fail, saying WANT
forge() {
	local kind=$1 arg=$2 want=$3 desc=$4 d s c pos out
	out=$HARNESS_DIR/forged.tmp
	read -r d s c pos < <($FORGE "$L0" "$POS0" "$kind" "$out" $arg) || {
		tap_fail "$desc (cannot forge)"
		return
	}
	mv "$out" "$HARNESS_DIR/${d#sha256:}"
	if "$CHECK" "$HARNESS_DIR/${d#sha256:}" "$pos" >/dev/null 2>"$HARNESS_DIR/forge.err"; then
		tap_fail "$desc: accepted"
	elif grep -q -- "$want" "$HARNESS_DIR/forge.err"; then
		tap_pass "$desc"
	else
		tap_fail "$desc" "$(cat "$HARNESS_DIR/forge.err")"
	fi
	rm -f "$HARNESS_DIR/${d#sha256:}"
}
forge chunkdigest big/varied.bin "does not decode to its digest" "a wrong chunkDigest: that chunk is never served"
forge digest files/f001 "does not decode to its digest" "a wrong digest of a one-chunk file: never served"
forge nodigest files/f001 "a file with no (or a bad) digest" "a file without a digest: the TOC is refused"
forge overlap "" "overlaps the previous one" "chunks that overlap: refused"
forge intotoc files/f002 "not inside the data" "a file whose frames reach into the TOC: refused"
forge size big/varied.bin "chunks hold" "a size its chunks do not add up to: refused"
forge escape files/f004 "escapes the layer" "a name with '..': refused"
forge version "" "version is not 1" "TOC version 2: refused"
tap_done
