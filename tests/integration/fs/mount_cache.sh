#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Laziness. A cold mount (no index anywhere) builds the indexes by
# streaming each layer once; after that, listing and stat-ing the whole
# tree fetches nothing. A second mount with the warm local index cache
# fetches no layer bytes at all for `find` + `stat`; reading one file then
# fetches only its spans. Prints mount time and first-byte latency.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
fixture_push multi fs/multi:v1
LAYOUT=$(fixture_build multi)
MAN="$LAYOUT/blobs/sha256/$(_fx_manifest "$LAYOUT" multi)"
LAYERS=$(jq -r '.layers[].digest' "$MAN")
MNT="$HARNESS_DIR/mnt"

layer_gets() { # GETs of any layer blob since the mark
	local d n=0
	for d in $LAYERS; do
		n=$((n + $(registry_blob_gets "$d")))
	done
	echo "$n"
}
walk() { find "$1" -printf '%p %s %m %U %T@\n' >/dev/null && find "$1" -exec stat -c '%n %s' {} + >/dev/null; }

registry_log_mark
tap_timed fsd_mount fs/multi:v1 "$MNT"
tap_is "$TAP_RC" 0 "cold mount (indexes built by streaming) in ${TAP_SECS} s"
# two GETs a gzip layer: the 51-byte legacy stargz footer probe the
# unpinned policy allows (docs/formats.md, "eStargz"), then the one stream
tap_is "$(layer_gets)" "$((2 * $(echo "$LAYERS" | wc -l)))" \
	"cold mount streams each layer exactly once (after one stargz footer probe each)"
registry_log_mark
tap_ok "find + stat over the tree" walk "$MNT"
tap_is "$(layer_gets)" 0 "listing the tree fetched no layer bytes"
tap_ok "unmount" fsd_umount "$MNT"

registry_log_mark
tap_timed fsd_mount fs/multi:v1 "$MNT"
tap_is "$TAP_RC" 0 "warm mount (indexes from the local cache) in ${TAP_SECS} s"
tap_ok "find + stat over the tree" walk "$MNT"
tap_is "$(registry_requests GET '/blobs/')" 0 "warm mount + find + stat: no blob GET at all"

big=$(jq -r '.layers[0].digest' "$MAN")
registry_log_mark
tap_timed head -c 1 "$MNT/big/large.bin"
tap_is "$TAP_RC" 0 "first byte of big/large.bin in ${TAP_SECS} s"
tap_ok "a single file read fetches from its layer only" test "$(layer_gets)" -ge 1
served=$(registry_bytes_served "$big")
tap_ok "bytes fetched for the first byte ($served) <= the layer's size" \
	test "$served" -le "$(jq -r '.layers[0].size' "$MAN")"
tap_ok "the content is right" cmp "$MNT/big/large.bin" \
	<(umoci_unpack "$(fixture_ref multi)" "$HARNESS_DIR/ref" && cat "$HARNESS_DIR/ref/rootfs/big/large.bin")
"$STRATA" stats "$MNT" --json >"$HARNESS_DIR/stats.json"
tap_ok "stats count the fetched bytes" test "$(jq '[.. | objects | .bytes_fetched? // empty] | max // 0' "$HARNESS_DIR/stats.json")" -gt 0
tap_diag "$("$STRATA" stats "$MNT")"
tap_ok "unmount" fsd_umount "$MNT"

# -o prefetch=all: everything arrives in the background, nothing read
fraction() { "$STRATA" stats "$MNT" --json | jq '.totals.fraction_fetched // 0'; }
all_fetched() {
	local i
	for i in $(seq 1 100); do
		[ "$(fraction)" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}
FSD_CACHE="$HARNESS_DIR/cache-prefetch"
mkdir -p "$FSD_CACHE"
tap_ok "mount with prefetch=all (fresh cache)" fsd_mount fs/multi:v1 "$MNT" prefetch=all
tap_ok "prefetch=all fetches every span without a read (fraction $(fraction))" all_fetched
tap_ok "unmount" fsd_umount "$MNT"

# concurrent readers of data not yet fetched (the FUSE loop is multithreaded)
FSD_CACHE="$HARNESS_DIR/cache-parallel"
mkdir -p "$FSD_CACHE"
tap_ok "mount (fresh cache)" fsd_mount fs/multi:v1 "$MNT"
want=$(umoci_unpack "$(fixture_ref multi)" "$HARNESS_DIR/ref2" && cd "$HARNESS_DIR/ref2/rootfs" &&
	find . -type f -size +0 | sort | xargs sha256sum)
readers=""
for i in 1 2 3 4 5 6 7 8; do
	(cd "$MNT" && find . -type f -size +0 | sort | xargs sha256sum >"$HARNESS_DIR/par.$i") &
	readers="$readers $!"
done
wait $readers # not a bare `wait`: the registry is a child of this shell too
bad=0
for i in 1 2 3 4 5 6 7 8; do
	[ "$(cat "$HARNESS_DIR/par.$i")" = "$want" ] || bad=$((bad + 1))
done
tap_is "$bad" 0 "8 concurrent readers of every file all see the right bytes"
tap_ok "unmount" fsd_umount "$MNT"

# many layers are opened in parallel
L="$HARNESS_DIR/many"
umoci init --layout "$L" >/dev/null
umoci new --image "$L:many" >/dev/null
for i in $(seq 1 24); do
	mkdir -p "$HARNESS_DIR/t$i/layer$i"
	echo "layer $i" >"$HARNESS_DIR/t$i/layer$i/file"
	echo "top is $i" >"$HARNESS_DIR/t$i/top"
	umoci insert --image "$L:many" "$HARNESS_DIR/t$i" / >/dev/null
done
skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$L:many" "docker://$REGISTRY/fs/many:v1" ||
	harness_fail "cannot push the 24-layer image"
tap_timed fsd_mount fs/many:v1 "$MNT"
tap_is "$TAP_RC" 0 "cold mount of 24 layers in ${TAP_SECS} s"
tap_is "$(cat "$MNT/top")" "top is 24" "the top layer wins"
tap_is "$(ls "$MNT" | grep -c '^layer')" 24 "every layer's dir is there"
tap_ok "unmount" fsd_umount "$MNT"
tap_timed fsd_mount fs/many:v1 "$MNT"
tap_is "$TAP_RC" 0 "warm mount of 24 layers in ${TAP_SECS} s"
tap_ok "unmount" fsd_umount "$MNT"
tap_done
