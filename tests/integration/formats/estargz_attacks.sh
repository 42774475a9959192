#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# eStargz TOCs that must not be trusted, on the ctr-remote fixture
# (estargz_lib.sh), forged with estargz_forge.py and pushed by digest:
#  - a manifest whose toc.digest does not match the TOC: the TOC is never
#    used (logged), the layer is streamed and indexed from its pinned blob
#    digest instead, and the tree is still right;
#  - a consistent, pinned image whose TOC gives one file a wrong
#    chunkDigest: that file reads EIO, never wrong bytes; the rest reads;
#  - legacy stargz (47-byte footer, no annotation): unpinned, used by a
#    mount by tag (the default policy), not with -o unpinned=never;
#  - ctr-remote --zstdchunked's tar+zstd layers, which carry toc.digest
#    too: not read as eStargz.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
. "$HERE/estargz_lib.sh"
fsd_init
registry_start plain
esgz_fixture_push esgz/img:v1 65536
H=$HARNESS_DIR
MNT="$H/mnt"
FORGE="/usr/bin/python3 $HERE/estargz_forge.py"
MT=application/vnd.oci.image.manifest.v1+json
skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/esgz/img:v1" "oci:$H/oci:img"
umoci_unpack "$H/oci:img" "$H/ref"
tree_dump "$H/ref/rootfs" >"$H/want.txt"

# forge KIND TAG ARGS...: a dir: copy of the image, forged, every blob and
# the manifest pushed to esgz/img; prints the new manifest's digest.
forge() {
	local kind=$1 tag=$2 d="$H/forge-$1" f
	shift 2
	rm -rf "$d"
	skopeo_pull esgz/img:v1 "$d" >/dev/null
	$FORGE "$kind" "$d" "$@" "$d/forged.json" >&2 || return 1
	for f in "$d"/*; do
		case "${f##*/}" in manifest.json | forged.json | version) continue ;; esac
		registry_push_blob esgz/img "$f" >/dev/null || return 1
	done
	registry_push_manifest esgz/img "$tag" "$d/forged.json" "$MT" >/dev/null || return 1
	echo "sha256:$(sha256sum <"$d/forged.json" | cut -d' ' -f1)"
}
stat_of() { "$STRATA" stats "$1" --json | jq -r "$2"; }

# 1. The pin does not match: the TOC is refused, the layer built from its bytes.
WRONG=$(forge wrong-pin wrong)
FSD_CACHE="$H/c1"
if fsd_mount "esgz/img@$WRONG" "$MNT"; then
	tree_dump "$MNT" >"$H/got1.txt"
	tap_ok "wrong toc.digest: the tree is still umoci's (built from the pinned blob)" \
		diff -u "$H/want.txt" "$H/got1.txt"
	L0=$(jq -r '.layers[0].digest' "$H/forge-wrong-pin/forged.json")
	tap_is "$(stat_of "$MNT" "[.layers[] | select(.digest == \"$L0\") | .index_source] | join(\",\")")" \
		built "... the layer whose pin is wrong was streamed and indexed here"
	tap_is "$(stat_of "$MNT" "[.layers[] | select(.digest != \"$L0\") | .index_source] | unique | join(\",\")")" \
		eStargz "... the others use their TOC"
	fsd_umount "$MNT"
else
	tap_fail "mount of the wrong-pin manifest"
fi
strata_run ls -R "$REGISTRY/esgz/img@$WRONG" --cache "$H/c1b" >/dev/null 2>&1 || true
tap_ok "... and strata ls of it says why" grep -q 'the manifest pins' "$STRATA_ERR"

# 2. A pinned TOC that lies about one file's chunk.
BAD=$(forge bad-chunk bad small/a/f7.txt)
FSD_CACHE="$H/c2"
if fsd_mount "esgz/img@$BAD" "$MNT"; then
	L0=$(jq -r '.layers[0].digest' "$H/forge-bad-chunk/forged.json")
	tap_is "$(stat_of "$MNT" "[.layers[] | select(.digest == \"$L0\") | .index_source + \" \" + .index_trust] | join(\",\")")" \
		"eStargz pinned" "bad chunkDigest: the forged TOC matches its pin and is used"
	if cat "$MNT/small/a/f7.txt" >"$H/f7" 2>"$H/f7.err"; then
		tap_fail "the file whose chunkDigest lies reads" "$(od -c "$H/f7" | head -3)"
	else
		tap_ok "the file whose chunkDigest lies reads EIO" grep -q 'Input/output error' "$H/f7.err"
	fi
	tap_is "$(cat "$MNT/small/a/f8.txt")" "small a 8" "... a file of the same layer reads"
	tap_ok "... and the big file too" cmp "$MNT/big/three-mib.bin" "$H/ref/rootfs/big/three-mib.bin"
	if cat "$MNT/small/a/f7.txt" >/dev/null 2>&1; then
		tap_fail "a second read of the lying file fails too"
	else
		tap_pass "a second read of the lying file fails too (nothing cached)"
	fi
	fsd_umount "$MNT"
else
	tap_fail "mount of the bad-chunk manifest"
fi

# 3. Legacy stargz: nothing pins the TOC.
LEG=$(forge legacy legacy)
FSD_CACHE="$H/c3"
if fsd_mount esgz/img:legacy "$MNT"; then
	tree_dump "$MNT" >"$H/got3.txt"
	tap_ok "legacy stargz by tag: the tree is umoci's" diff -u "$H/want.txt" "$H/got3.txt"
	tap_is "$(stat_of "$MNT" '[.layers[] | .index_source + " " + .index_trust] | unique | join(",")')" \
		"eStargz unpinned" "... read through its TOCs, unpinned (the default policy trusts them by tag)"
	tap_is "$(stat_of "$MNT" '.totals.index_build_bytes')" 0 "... nothing streamed"
	fsd_umount "$MNT"
else
	tap_fail "mount of the legacy stargz image by tag"
fi
FSD_CACHE="$H/c4"
if fsd_mount "esgz/img@$LEG" "$MNT" unpinned=never; then
	tap_is "$(stat_of "$MNT" '[.layers[].index_source] | unique | join(",")')" built \
		"legacy stargz with -o unpinned=never: its TOCs are not used, the layers are indexed here"
	tree_dump "$MNT" >"$H/got4.txt"
	tap_ok "... and the tree is the same" diff -u "$H/want.txt" "$H/got4.txt"
	fsd_umount "$MNT"
else
	tap_fail "mount of the legacy stargz image with unpinned=never"
fi
# 4. ctr-remote --zstdchunked puts the same toc.digest annotation on tar+zstd
# layers: they are not gzip stargz and must not be read as such.
_esgz_ctr_reg_opts
ctr_remote images convert --zstdchunked --oci "$REGISTRY/src-esgz/img:v1" "$REGISTRY/esgz/zc:v1" >/dev/null 2>&1 &&
	ctr_remote images push "${CTR_REG_OPTS[@]}" "$REGISTRY/esgz/zc:v1" >/dev/null 2>&1 ||
	harness_fail "ctr-remote --zstdchunked convert/push failed"
tap_is "$(skopeo_raw esgz/zc:v1 | jq -r '[.layers[] | select(.annotations["containerd.io/snapshot/stargz/toc.digest"]) | .mediaType] | unique | join(",")')" \
	application/vnd.oci.image.layer.v1.tar+zstd "ctr-remote --zstdchunked: tar+zstd layers with a toc.digest"
FSD_CACHE="$H/c5"
if fsd_mount esgz/zc:v1 "$MNT"; then
	tap_ok "... not read as eStargz" test "$(stat_of "$MNT" '[.layers[] | select(.index_source == "eStargz")] | length')" -eq 0
	tree_dump "$MNT" >"$H/got5.txt"
	# the same tree, but for the TOC file: zstd:chunked keeps its TOC out of the tar
	tap_ok "... and the tree is umoci's of the eStargz image, stargz.index.json aside" \
		diff -u <(grep -v '^stargz.index.json|' "$H/want.txt") "$H/got5.txt"
	fsd_umount "$MNT"
else
	tap_fail "mount of the zstdchunked image"
fi
tap_done
