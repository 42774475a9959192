#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# zstd:chunked images (written by skopeo 1.9.3, zchunked_lib.sh) mounted
# with no stratafs index anywhere: every layer is read through its pinned
# TOC, reading one small file fetches under 10 % of the compressed layer
# bytes and nothing is streamed; the whole tree equals `umoci unpack` of the
# plain-tar original; `strata ls` / `strata cat` read it the same way.
# The newer annotation keys (io.github.containers.*) pin as well; with a
# pinned stratafs index beside the TOC the cheaper (the TOC) is read.
# Attacks, each on a manifest pushed by digest: a checksum annotation that
# does not match the TOC (the TOC is never used: the layer is streamed and
# indexed instead, with a clear error), and a TOC whose chunkDigest of one
# chunk lies (pinned by a forged manifest: that chunk fails with EIO, never
# wrong bytes; the rest of the file is served and correct).
# The whole-layer check (-o prefetch=all) passes on the real image and
# catches a pinned TOC that disagrees with its tar (one file's mode).
. "$(dirname "$0")/../fs/mount_lib.sh"
. "$SRCDIR/tests/integration/formats/zchunked_lib.sh"
FORGE="/usr/bin/python3 $SRCDIR/tests/integration/formats/zchunked_forge.py"
OCI_MT=application/vnd.oci.image.manifest.v1+json
fsd_init
registry_start plain
MNT=$HARNESS_DIR/mnt

zc_push zc/mnt:v1 || harness_fail "skopeo cannot push the zstd:chunked fixture"
P=$HARNESS_DIR/pulled
skopeo copy --quiet "${SKOPEO_SRC_OPTS[@]}" "docker://$REGISTRY/zc/mnt:v1" "dir:$P" ||
	harness_fail "cannot pull the fixture back"
L0=$(jq -r '.layers[0].digest' "$P/manifest.json")
L0_SIZE=$(jq -r '.layers[0].size' "$P/manifest.json")
L1=$(jq -r '.layers[1].digest' "$P/manifest.json")
zc_reference "$HARNESS_DIR/ref"
tree_dump "$HARNESS_DIR/ref/rootfs" >"$HARNESS_DIR/want.txt"

stats() { "$STRATA" stats --json "$MNT"; }
# src STATS DIGEST: the index_source of that layer
src() { jq -r --arg d "$2" '.layers[] | select(.digest == $d) | .index_source' <<<"$1"; }

# -- lazy: one small file ------------------------------------------------------
registry_log_mark
FSD_CACHE=$HARNESS_DIR/c1
if fsd_mount zc/mnt:v1 "$MNT"; then
	tap_pass "mount of the zstd:chunked image"
	tap_is "$(cat "$MNT/files/f010")" "small file 010" "a small file reads right"
	S=$(stats)
	tap_is "$(jq -r '[.layers[].index_source] | join(",")' <<<"$S")" "zstd:chunked,zstd:chunked" \
		"both layers are read through their zstd:chunked TOC"
	tap_is "$(jq -r '[.layers[].index_trust] | join(",")' <<<"$S")" "pinned,pinned" "and the TOCs are pinned"
	tap_is "$(jq -r '.totals.index_build_bytes' <<<"$S")" 0 "no layer was streamed to build an index"
	served=$(registry_bytes_served "$L0")
	tap_ok "reading one small file fetched $served of $L0_SIZE compressed bytes (< 10 %)" \
		tap_lt "$served" $((L0_SIZE / 10))
	tap_is "$(registry_blob_gets "$L1")" 1 "the second layer: one request (its TOC)"
	tree_dump "$MNT" >"$HARNESS_DIR/got.txt"
	tap_ok "the mounted tree equals umoci unpack of the plain-tar original" \
		diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got.txt"
	tap_is "$(jq -r '.totals.errors' <<<"$(stats)")" 0 "no read error while reading every file"
	tap_ok "unmount" fsd_umount "$MNT"
else
	tap_fail "mount of the zstd:chunked image"
fi

# -- strata ls / cat -----------------------------------------------------------
tap_ok "strata ls lists the layer through its TOC" \
	bash -c "'$STRATA' ls -R '$REGISTRY/zc/mnt:v1' --insecure --cache '$HARNESS_DIR/c2' | grep -qx 'files/f299\|/files/f299\|f299'"
tap_is "$("$STRATA" cat "$REGISTRY/zc/mnt:v1" links/hard2 --insecure --cache "$HARNESS_DIR/c3")" \
	"hardlink target" "strata cat reads a hardlink"
tap_is "$("$STRATA" cat "$REGISTRY/zc/mnt:v1" big/varied.bin --insecure --cache "$HARNESS_DIR/c3" | sha256sum | cut -c1-64)" \
	"$(sha256sum "$HARNESS_DIR/ref/rootfs/big/varied.bin" | cut -c1-64)" "strata cat reads a file of many chunks"

# push_by_digest FILE: push a manifest by its digest, print "zc/mnt@sha256:..."
push_by_digest() {
	local d
	d=sha256:$(sha256sum "$1" | cut -c1-64)
	registry_push_manifest zc/mnt "$d" "$1" "$OCI_MT" >/dev/null || return 1
	printf 'zc/mnt@%s\n' "$d"
}

# -- the newer spelling of the annotations (io.github.containers.*) --------------
jq -c '.layers |= map(.annotations |= with_entries(.key |= sub("^io\\.containers\\."; "io.github.containers.")))' \
	"$P/manifest.json" >"$HARNESS_DIR/newkeys.json"
REF=$(push_by_digest "$HARNESS_DIR/newkeys.json") || harness_fail "cannot push the manifest with the newer keys"
FSD_CACHE=$HARNESS_DIR/c6
if fsd_mount "$REF" "$MNT"; then
	tap_is "$(jq -r '[.layers[].index_source] | join(",")' <<<"$(stats)")" "zstd:chunked,zstd:chunked" \
		"the io.github.containers.zstd-chunked.* annotations pin the TOCs too"
	tap_is "$(cat "$MNT/links/hard1")" "hardlink target" "and the image reads"
	tap_ok "unmount" fsd_umount "$MNT"
else
	tap_fail "mount with the newer annotation keys"
fi

# -- a pinned stratafs index too: the cheaper one is read --------------------------
PIN=$("$STRATA" index "$REGISTRY/zc/mnt:v1" --push --tag pinned --insecure -q --json \
	--cache "$HARNESS_DIR/c-index" | jq -r .pinned) || harness_fail "strata index --push --tag"
FSD_CACHE=$HARNESS_DIR/c9
if fsd_mount "${PIN#"$REGISTRY"/}" "$MNT"; then
	S=$(stats)
	tap_is "$(jq -r --arg d "$L0" '.layers[] | select(.digest == $d) | .index_format' <<<"$S")" zstd:chunked \
		"with a pinned stratafs index as well, the TOC (chunks of ~64 KiB, not 4 MiB spans) is read"
	tap_ok "and stats say why (both costs)" bash -c "jq -r --arg d '$L0' '.layers[] | select(.digest == \$d) | .index_choice' <<<'$S' | grep -q 'zstd:chunked: .* stratafs: '"
	tap_ok "unmount" fsd_umount "$MNT"
else
	tap_fail "mount through the pinning index"
fi

# -- attack 1: the checksum annotation does not match the TOC --------------------
jq -c '.layers[0].annotations["io.containers.zstd-chunked.manifest-checksum"] = "sha256:" + ("0" * 64)' \
	"$P/manifest.json" >"$HARNESS_DIR/badpin.json"
REF=$(push_by_digest "$HARNESS_DIR/badpin.json") || harness_fail "cannot push the forged manifest"
FSD_CACHE=$HARNESS_DIR/c4
LOG=$HARNESS_DIR/badpin.log
mkdir -p "$MNT"
harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"
"$STRATAFS" "$REGISTRY/$REF" "$MNT" -f -o "insecure,cache=$FSD_CACHE" 2>"$LOG" &
FPID=$!
for _ in $(seq 1 100); do fsd_is_mounted "$MNT" && break; sleep 0.1; done
if fsd_is_mounted "$MNT"; then
	S=$(stats)
	tap_is "$(src "$S" "$L0")" built \
		"a TOC that does not match its pin is not used: the layer is streamed and indexed"
	tap_ok "and the mount says why" grep -q "does not hash to its pin" "$LOG"
	tap_is "$(src "$S" "$L1")" zstd:chunked "the other layer still uses its TOC"
	tree_dump "$MNT" >"$HARNESS_DIR/got-badpin.txt"
	tap_ok "the tree is still the right one" diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got-badpin.txt"
	tap_ok "unmount" fsd_umount "$MNT"
else
	tap_fail "mount of the manifest with a bad checksum annotation" "$(tail -5 "$LOG")"
fi
wait "$FPID" || true

# -- attack 2: a pinned TOC whose chunkDigest lies -------------------------------
POS0=$(jq -r '.layers[0].annotations["io.containers.zstd-chunked.manifest-position"]' "$P/manifest.json")
# push_forged KIND NAME: layer 0 with its TOC forged (zchunked_forge.py), pinned by a
# manifest pushed by digest; sets REF (to mount) and BD (the forged blob's digest)
push_forged() {
	local bs bc bp
	read -r BD bs bc bp < <($FORGE "$P/${L0#sha256:}" "$POS0" "$1" "$HARNESS_DIR/forged.blob" "$2") ||
		harness_fail "cannot forge the TOC ($1)"
	registry_push_blob zc/mnt "$HARNESS_DIR/forged.blob" >/dev/null || harness_fail "cannot push the forged blob"
	jq -c --arg d "$BD" --argjson s "$bs" --arg c "$bc" --arg p "$bp" \
		'.layers[0].digest = $d | .layers[0].size = $s
		 | .layers[0].annotations["io.containers.zstd-chunked.manifest-checksum"] = $c
		 | .layers[0].annotations["io.containers.zstd-chunked.manifest-position"] = $p' \
		"$P/manifest.json" >"$HARNESS_DIR/forged-$1.json"
	REF=$(push_by_digest "$HARNESS_DIR/forged-$1.json") || harness_fail "cannot push the forged manifest"
}
push_forged chunkdigest big/varied.bin
FSD_CACHE=$HARNESS_DIR/c5
if fsd_mount "$REF" "$MNT"; then
	tap_is "$(src "$(stats)" "$BD")" zstd:chunked "the forged TOC is pinned, so it is used"
	tap_not "reading the chunk whose digest lies fails" head -c 4096 "$MNT/big/varied.bin"
	tap_ok "with EIO" bash -c "head -c 4096 '$MNT/big/varied.bin' 2>&1 >/dev/null | grep -q 'Input/output error'"
	tap_not "so does reading the whole file" cat "$MNT/big/varied.bin"
	tap_is "$(tail -c 1048576 "$MNT/big/varied.bin" | sha256sum | cut -c1-64)" \
		"$(tail -c 1048576 "$HARNESS_DIR/ref/rootfs/big/varied.bin" | sha256sum | cut -c1-64)" \
		"the file's other chunks are served, and right"
	tap_is "$(cat "$MNT/files/f001")" "small file 001" "other files are served"
	tap_ok "the failed chunk is counted as an error" tap_lt 0 "$(jq -r '.totals.errors' <<<"$(stats)")"
	tap_ok "unmount" fsd_umount "$MNT"
else
	tap_fail "mount of the manifest pinning a lying TOC"
fi

# -- the whole-layer check -------------------------------------------------------
# wait_check WANT: every layer's check reaches WANT (or one fails) within 90 s
wait_check() {
	local s
	for _ in $(seq 1 450); do
		s=$(stats | jq -r '[.layers[].check] | join(",")')
		case ",$s," in *,failed,*) break ;; esac
		[ "$s" = "$1" ] && break
		sleep 0.2
	done
	printf '%s\n' "$s"
}
FSD_CACHE=$HARNESS_DIR/c7
if fsd_mount zc/mnt:v1 "$MNT" prefetch=all; then
	tap_is "$(wait_check passed,passed)" passed,passed "the whole-layer check passes: each TOC agrees with its tar"
	tap_ok "unmount" fsd_umount "$MNT"
else
	tap_fail "mount with prefetch=all"
fi
push_forged mode files/f001
FSD_CACHE=$HARNESS_DIR/c8
if fsd_mount "$REF" "$MNT" prefetch=all; then
	tap_is "$(stat -c %a "$MNT/files/f001")" 600 "a pinned TOC that lies about a mode is served at first"
	wait_check passed,passed >/dev/null
	S=$(stats)
	tap_is "$(jq -r --arg d "$BD" '.layers[] | select(.digest == $d) | .check' <<<"$S")" failed \
		"the whole-layer check finds that the TOC disagrees with its tar"
	tap_is "$(jq -r '.totals.check_failures' <<<"$S")" 1 "and counts it"
	tap_not "reads of that layer then fail" cat "$MNT/files/f002"
	tap_ok "unmount" fsd_umount "$MNT"
else
	tap_fail "mount of the manifest pinning a TOC that disagrees with its tar"
fi
tap_done
