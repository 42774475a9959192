#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# eStargz made by the real tools (Debian's stargz-snapshotter 0.12 over a
# private containerd, estargz_lib.sh): two layers, 64 KiB chunks, a 3 MiB
# file in 48 chunks, hardlinks, symlinks, xattrs, devices, a whiteout, an
# opaque dir. With no stratafs index anywhere, the mount reads the TOCs the
# manifest pins: its tree equals `umoci unpack` of the same image, no layer
# is streamed, and reading one small file fetches < 10 % of its layer.
# strata ls / cat / extract read the image the same way.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$SRCDIR/tests/integration/extract/extract_lib.sh"
. "$HERE/estargz_lib.sh"
fsd_init
registry_start plain
esgz_fixture_push esgz/img:v1 65536
REF=esgz/img:v1
MNT="$HARNESS_DIR/mnt"
H=$HARNESS_DIR
registry_curl /v2/esgz/img/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json' >"$H/m.json"
mapfile -t LAYERS < <(jq -r '.layers[].digest' "$H/m.json")
mapfile -t SIZES < <(jq -r '.layers[].size' "$H/m.json")

# The oracle: umoci unpack of the eStargz image itself (its tars hold the
# landmark and stargz.index.json files: so must the mount).
skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/$REF" "oci:$H/oci:img"
umoci_unpack "$H/oci:img" "$H/ref"
tree_dump "$H/ref/rootfs" >"$H/want.txt"
tap_is "$(jq '[.layers[] | select(.annotations["containerd.io/snapshot/stargz/toc.digest"] != null)] | length' "$H/m.json")" \
	"${#LAYERS[@]}" "the fixture: every layer's TOC is pinned by the manifest (${#LAYERS[@]} layers)"
footers() {
	local d
	for d in "${LAYERS[@]}"; do
		tail -c 51 "$H/oci/blobs/sha256/${d#sha256:}" | head -c 16 | od -An -tx1 | tr -d ' \n'
		echo
	done | sort -u
}
tap_is "$(footers)" 1f8b08040000000000ff1a0053471600 "... each ends in the 51-byte eStargz footer"
tap_ok "... the big file is in 64 KiB chunks" \
	test "$(gzip -dc "$H/oci/blobs/sha256/${LAYERS[0]#sha256:}" | tar -xOf - stargz.index.json |
		jq '[.entries[] | select(.name == "big/three-mib.bin")] | length')" -eq 48

strata_run inspect "$REGISTRY/$REF" --json >"$H/inspect.json"
tap_is "$(jq -r '[.layers[] | .index] | unique | join(",")' "$H/inspect.json")" "eStargz pinned" \
	"strata inspect: every layer has an eStargz TOC, pinned"
tap_ok "... whose digest is the manifest's toc.digest" test \
	"$(jq -c '[.layers[].foreignIndex.toc]' "$H/inspect.json")" = \
	"$(jq -c '[.layers[].annotations["containerd.io/snapshot/stargz/toc.digest"]]' "$H/m.json")"

stats_json() { "$STRATA" stats "$1" --json; }

# 1. The whole tree, every file read.
registry_log_mark
if fsd_mount "$REF" "$MNT"; then
	tap_pass "mount of the eStargz image (no stratafs index anywhere)"
	tree_dump "$MNT" >"$H/got.txt"
	tap_ok "the mounted tree equals umoci unpack (every file read)" diff -u "$H/want.txt" "$H/got.txt"
	stats_json "$MNT" >"$H/s1.json"
	tap_is "$(jq -r '[.layers[].index_source] | unique | join(",")' "$H/s1.json")" eStargz \
		"strata stats: every layer's index_source is eStargz"
	tap_is "$(jq -r '[.layers[].index_trust] | unique | join(",")' "$H/s1.json")" pinned \
		"... trusted as pinned"
	tap_is "$(jq -r '.totals.index_build_bytes' "$H/s1.json")" 0 "... and no layer was streamed"
	fsd_umount "$MNT"
else
	tap_fail "mount of the eStargz image"
fi
registry_log_settle
over=0
for i in "${!LAYERS[@]}"; do
	got=$(registry_bytes_served "${LAYERS[$i]}")
	[ "$got" -le $((SIZES[i] + 65536)) ] || over=1
done
tap_is "$over" 0 "reading the whole tree fetched each layer about once (its size + the 64 KiB tail read at most)"

# 2. One small file of the big layer, on a fresh cache.
FSD_CACHE="$H/cache2"
registry_log_mark
if fsd_mount "$REF" "$MNT"; then
	tap_is "$(cat "$MNT/small/a/f7.txt")" "small a 7" "a small file of the 3 MiB layer reads"
	stats_json "$MNT" >"$H/s2.json"
	fsd_umount "$MNT"
	registry_log_settle
	got=$(registry_bytes_served "${LAYERS[0]}")
	tap_ok "... fetching $got of its layer's ${SIZES[0]} bytes (footer, TOC, one chunk: < 10 %)" \
		test $((got * 10)) -lt "${SIZES[0]}"
	tap_is "$(jq -r '.totals.index_build_bytes' "$H/s2.json")" 0 "... with nothing streamed"
else
	tap_fail "mount on a fresh cache"
fi

# 3. strata ls / cat, no FUSE.
# (devices aside: ls prints "major, minor" where ls_dump prints a size;
# the mount's tree_dump above compares their numbers)
strata_run ls -l -R "$REGISTRY/$REF" --cache "$H/c3" >"$H/ls-raw.txt"
grep -v '^[bc]' "$H/ls-raw.txt" | ls_norm >"$H/ls.txt"
ls_dump "$H/ref/rootfs" | grep -v '^[bc]' | ls_norm >"$H/ls-want.txt"
tap_ok "strata ls -l -R REF equals the listing of umoci's rootfs" diff -u "$H/ls-want.txt" "$H/ls.txt"
tap_ok "... devices included" grep -Eq '^crw-r--r-- +1 +0 +0 +1, +3 .* dev/null$' "$H/ls-raw.txt"
registry_log_mark
strata_run cat "$REGISTRY/$REF" big/three-mib.bin --cache "$H/c4" >"$H/big.bin"
tap_ok "strata cat REF big/three-mib.bin: the bytes umoci wrote" cmp "$H/big.bin" "$H/ref/rootfs/big/three-mib.bin"
strata_run cat "$REGISTRY/$REF" stargz.index.json --cache "$H/c4" >"$H/toc.json"
tap_ok "strata cat REF stargz.index.json: the top layer's TOC, as the tar holds it" \
	cmp "$H/toc.json" "$H/ref/rootfs/stargz.index.json"
strata_run extract "$REGISTRY/$REF" "$H/ex" --cache "$H/c5" >/dev/null
tree_dump "$H/ex" >"$H/ex.txt"
tap_ok "strata extract REF DEST equals umoci unpack" diff -u "$H/want.txt" "$H/ex.txt"
tap_done
