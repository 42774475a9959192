#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# SOCI images mounted with no stratafs index anywhere (soci_lib.sh: the
# fixture `multi` with gzip layers made by skopeo, zTOCs and SOCI index
# manifests written by soci_build.py from the published formats).
#
#   v2 (pinned): the tree equals umoci unpack of the original; reading one
#     small file first fetches < 10 % of the big layer; every layer is read
#     through SOCI v2 (strata stats), none streamed; strata inspect names it;
#     a second mount reads from the span cache, a damaged span file in it
#     is caught; a layer the SOCI index has no zTOC for is built.
#   v1 (referrers, unpinned): used by a tag mount (index_trust unpinned),
#     the tree equals the original; with -o unpinned=never it is not used.
#   attacks, each on a fresh cache: an annotation naming a SOCI index that
#     is not the one served (absent, or a v1 index); a zTOC whose bytes do
#     not hash to its descriptor (served through the fault proxy); a zTOC
#     with one wrong span digest, pinned by a forged v2 index: the file in
#     that span fails with EIO, never wrong bytes, the others read right.
#   the whole-layer check (-o prefetch=all): an honest zTOC passes it; one
#     that lies about a mode fails it, is counted, and its layer reads EIO.
. "$(dirname "$0")/../fs/mount_lib.sh"
. "$(dirname "$0")/soci_lib.sh"
fsd_init
registry_start plain
MNT=$HARNESS_DIR/mnt
REPO=soci/img
soci_image "$REPO"
umoci_unpack "$(fixture_ref multi)" "$HARNESS_DIR/ref"
tree_dump "$HARNESS_DIR/ref/rootfs" >"$HARNESS_DIR/want.txt"
BIG=${SOCI_LAYERS[0]}
BIG_SIZE=$(jq '.layers[0].size' "$SOCI_MANIFEST")
SMALL=perms/suid
[ "$(wc -c <"$HARNESS_DIR/ref/rootfs/$SMALL")" -lt 1000 ] || harness_fail "$SMALL is not small"

V1=$(soci_push_v1 "$REPO" v1) || harness_fail "cannot push SOCI v1"
soci_push_v2 "$REPO" v2 >/dev/null || harness_fail "cannot push SOCI v2"

fresh_cache() { FSD_CACHE=$HARNESS_DIR/cache-$1; mkdir -p "$FSD_CACHE"; }
# strata stats --json into stats.json; a failure is shown (never an empty
# file taken for stats: jq -e accepts empty input)
stats() {
	if ! "$STRATA" stats "$MNT" --json >"$HARNESS_DIR/stats.json" 2>"$HARNESS_DIR/stats.err" ||
		! [ -s "$HARNESS_DIR/stats.json" ]; then
		tap_diag "strata stats failed: $(head -c 500 "$HARNESS_DIR/stats.err")"
		return 1
	fi
}
sources() { jq -r '[.layers[].index_source] | unique | join(",")' "$HARNESS_DIR/stats.json"; }

# ---- v2 ----
fresh_cache v2
if fsd_mount "$REPO:v2" "$MNT"; then
	tap_ok "v2: a small file reads right" cmp "$MNT/$SMALL" "$HARNESS_DIR/ref/rootfs/$SMALL"
	stats
	served=$(jq -r ".layers[] | select(.digest == \"$BIG\") | .bytes_fetched" "$HARNESS_DIR/stats.json")
	tap_ok "v2: reading it fetched $served of the big layer's $BIG_SIZE bytes (< 10 %)" \
		test "$served" -gt 0 -a $((served * 10)) -lt "$BIG_SIZE"
	tap_is "$(sources)" "SOCI v2" "v2: every layer is read through SOCI v2"
	tap_is "$(jq -r '[.layers[].index_trust] | unique | join(",")' "$HARNESS_DIR/stats.json")" \
		pinned "v2: trusted as pinned"
	tree_dump "$MNT" >"$HARNESS_DIR/got-v2.txt"
	tap_ok "v2: the tree equals umoci unpack of the original" \
		diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got-v2.txt"
	tap_ok "v2: unmount" fsd_umount "$MNT"
else
	tap_fail "v2: mount"
fi

tap_ok "strata inspect names SOCI v2 (pinned) for every layer" sh -c \
	"'$STRATA' inspect '$REGISTRY/$REPO:v2' --insecure --json | jq -e \
	'[.layers[].foreignIndex | .format == \"SOCI v2\" and .trust == \"pinned\"] | all'"
tap_ok "strata inspect names SOCI v1 (unpinned, a referrer) for every layer of the v1 image" sh -c \
	"'$STRATA' inspect '$REGISTRY/$REPO:v1' --insecure --json | jq -e \
	'[.layers[].foreignIndex | .format == \"SOCI v1\" and .trust == \"unpinned\"] | all'"

# the span cache: a second mount reads from it (files checked against their own
# hash, under the zTOC's key); a damaged span file is caught and fetched again
if fsd_mount "$REPO:v2" "$MNT"; then
	cat "$MNT/$SMALL" >/dev/null
	stats
	tap_is "$(jq -r ".layers[] | select(.digest == \"$BIG\") | .bytes_fetched" "$HARNESS_DIR/stats.json")" \
		0 "v2 again: the small file comes from the span cache"
	fsd_umount "$MNT" || tap_fail "v2 again: unmount"
else
	tap_fail "v2 again: mount"
fi
spanfile=$(find "$FSD_CACHE/v1/spans" -type f -size +60k | head -1)
if [ -n "$spanfile" ]; then
	printf '\xff' | dd of="$spanfile" bs=1 seek=5000 conv=notrunc status=none
	if fsd_mount "$REPO:v2" "$MNT"; then
		tree_dump "$MNT" >"$HARNESS_DIR/got-v2-damaged.txt"
		tap_ok "v2 with a damaged span file in the cache: the tree is still right" \
			diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got-v2-damaged.txt"
		fsd_umount "$MNT" || tap_fail "v2 damaged: unmount"
	else
		tap_fail "v2 damaged: mount"
	fi
else
	tap_fail "no span file of the big layer in the cache"
fi

# ---- v1 ----
fresh_cache v1
if fsd_mount "$REPO:v1" "$MNT"; then
	stats
	tap_is "$(sources)" "SOCI v1" "v1 (tag mount): read through the SOCI v1 referrer"
	tap_is "$(jq -r '[.layers[].index_trust] | unique | join(",")' "$HARNESS_DIR/stats.json")" \
		unpinned "v1: trusted as unpinned"
	tree_dump "$MNT" >"$HARNESS_DIR/got-v1.txt"
	tap_ok "v1: the tree equals umoci unpack of the original" \
		diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got-v1.txt"
	tap_ok "v1: unmount" fsd_umount "$MNT"
else
	tap_fail "v1: mount"
fi
fresh_cache v1-never
if fsd_mount "$REPO:v1" "$MNT" unpinned=never; then
	stats
	tap_is "$(sources)" built "v1 with -o unpinned=never: not used (every layer built)"
	tap_ok "v1 unpinned=never: unmount" fsd_umount "$MNT"
else
	tap_fail "v1 unpinned=never: mount"
fi

# a SOCI index without a zTOC for one layer (SOCI skips small layers): that one is built
fresh_cache partial
soci_push_v2 "$REPO" partial "1=-" >/dev/null
if fsd_mount "$REPO:partial" "$MNT"; then
	stats
	tap_is "$(jq -r ".layers[] | select(.digest == \"${SOCI_LAYERS[1]}\") | .index_source" \
		"$HARNESS_DIR/stats.json")" built "a layer the SOCI index has no zTOC for is built"
	tap_is "$(jq -r '[.layers[].index_source | select(. == "SOCI v2")] | length' \
		"$HARNESS_DIR/stats.json")" 4 "the others are read through SOCI v2"
	tree_dump "$MNT" >"$HARNESS_DIR/got-partial.txt"
	tap_ok "partial SOCI index: the tree is right" \
		diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got-partial.txt"
	fsd_umount "$MNT" || tap_fail "partial: unmount"
else
	tap_fail "partial SOCI index: mount"
fi

# ---- attacks ----
# not_used TAG WHAT: the mount works, no layer is read through SOCI, the tree is right
not_used() {
	if fsd_mount "$REPO:$1" "$MNT"; then
		stats
		tap_is "$(jq -r '[.layers[].index_source | select(startswith("SOCI"))] | length' \
			"$HARNESS_DIR/stats.json")" 0 "$2: SOCI not used"
		tree_dump "$MNT" >"$HARNESS_DIR/got-$1.txt"
		tap_ok "$2: the tree is still right" diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got-$1.txt"
		fsd_umount "$MNT" || tap_fail "$2: unmount"
	else
		tap_fail "$2: mount"
	fi
}
fresh_cache absent
soci_push_v2 "$REPO" absent --annotate "sha256:$(printf x | sha256sum | cut -d' ' -f1)" >/dev/null
not_used absent "an annotation naming a SOCI index the registry does not have"
fresh_cache other
soci_push_v2 "$REPO" other --annotate "$V1" >/dev/null
not_used other "an annotation naming another SOCI index (a v1 one) than the image index lists"

# a zTOC whose bytes are not its descriptor's digest: the proxy serves forged bytes for it
$SOCI_BUILD ztoc "$SOCI_DIR/layer0.gz" "$SOCI_DIR/forged0.ztoc" --span 65536 --bad-span 6 >/dev/null
ZTOC0=sha256:$(sha256sum "$SOCI_ZTOC_0" | cut -d' ' -f1)
proxy_start "replace file=$SOCI_DIR/forged0.ztoc path=/blobs/$ZTOC0"
fresh_cache swapped
REG_SAVED=$REGISTRY
REGISTRY=$PROXY
if fsd_mount "$REPO:v2" "$MNT"; then
	stats
	tap_is "$(jq -r ".layers[] | select(.digest == \"$BIG\") | .index_source" "$HARNESS_DIR/stats.json")" \
		built "a zTOC that does not hash to its descriptor is not used (that layer built)"
	tree_dump "$MNT" >"$HARNESS_DIR/got-swapped.txt"
	tap_ok "swapped zTOC: the tree is still right" \
		diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got-swapped.txt"
	fsd_umount "$MNT" || tap_fail "swapped zTOC: unmount"
else
	tap_fail "swapped zTOC: mount"
fi
REGISTRY=$REG_SAVED

# a forged zTOC (span 6 of the big layer has a wrong digest), pinned by a forged v2 index
fresh_cache forged
soci_push_v2 "$REPO" forged "0=$SOCI_DIR/forged0.ztoc" >/dev/null
if fsd_mount "$REPO:forged" "$MNT"; then
	stats
	tap_is "$(jq -r ".layers[] | select(.digest == \"$BIG\") | .index_source" "$HARNESS_DIR/stats.json")" \
		"SOCI v2" "forged span digest: the forged zTOC is used (it is pinned)"
	if cat "$MNT/big/large.bin" >"$HARNESS_DIR/large.out" 2>"$HARNESS_DIR/large.err"; then
		tap_fail "forged span digest: reading the file in that span succeeded"
	else
		tap_ok "forged span digest: the file in that span fails with EIO" \
			grep -q "Input/output error" "$HARNESS_DIR/large.err"
	fi
	# whatever came out before the error is the original's prefix, never other bytes
	got=$(stat -c %s "$HARNESS_DIR/large.out")
	tap_ok "forged span digest: the $got bytes read before the error are the original's" \
		cmp -n "$got" "$HARNESS_DIR/large.out" "$HARNESS_DIR/ref/rootfs/big/large.bin"
	tap_ok "forged span digest: a file outside that span reads right" \
		cmp "$MNT/$SMALL" "$HARNESS_DIR/ref/rootfs/$SMALL"
	fsd_umount "$MNT" || tap_fail "forged: unmount"
else
	tap_fail "forged span digest: mount"
fi
# ---- the whole-layer check (-o prefetch=all) ----
# wait_check: until no layer's check is queued or running (60 s at most)
wait_check() {
	local i
	for i in $(seq 1 300); do
		stats &&
		jq -e '[.layers[].check] | all(. != "queued" and . != "running" and . != "none")' \
			"$HARNESS_DIR/stats.json" >/dev/null && return 0
		sleep 0.2
	done
	return 1
}
fresh_cache check
if fsd_mount "$REPO:v2" "$MNT" prefetch=all; then
	tap_ok "prefetch=all: every layer's check ends" wait_check
	tap_is "$(jq -r '[.layers[].check] | unique | join(",")' "$HARNESS_DIR/stats.json")" passed \
		"an honest zTOC passes the whole-layer check (entries and contents against the tar)"
	fsd_umount "$MNT" || tap_fail "check: unmount"
else
	tap_fail "prefetch=all: mount"
fi
# a zTOC that lies about one mode, pinned by a forged v2 index
$SOCI_BUILD ztoc "$SOCI_DIR/layer0.gz" "$SOCI_DIR/liar0.ztoc" --span 65536 --lie-mode perms/suid >/dev/null
soci_push_v2 "$REPO" liar "0=$SOCI_DIR/liar0.ztoc" >/dev/null
fresh_cache liar
if fsd_mount "$REPO:liar" "$MNT" prefetch=all; then
	wait_check || true
	tap_is "$(jq -r ".layers[] | select(.digest == \"$BIG\") | .check" "$HARNESS_DIR/stats.json")" \
		failed "a zTOC that disagrees with its tar (a mode) fails the whole-layer check"
	tap_is "$(jq -r '.totals.check_failures' "$HARNESS_DIR/stats.json")" 1 "and it is counted"
	if cat "$MNT/$SMALL" >/dev/null 2>"$HARNESS_DIR/liar.err"; then
		tap_fail "the layer still reads after failing its check"
	else
		tap_ok "reads of that layer then fail with EIO" grep -q "Input/output error" "$HARNESS_DIR/liar.err"
	fi
	fsd_umount "$MNT" || tap_fail "liar: unmount"
else
	tap_fail "liar: mount"
fi
tap_done
