#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A BuildKit registry cache (BuildKit's cache/remotecache/v1 spec), hand-built over
# the layers of the "multi" fixture, in both forms: the image-manifest=true
# OCI manifest (config media type application/vnd.buildkit.cacheconfig.v0)
# and the legacy index. The mount shows layers/NN-<12 hex>/, chains/NN/ and
# cache-config.json; chains/01 equals layers 0 + 1 merged (umoci unpack of a
# two-layer image), chains/04 the whole image.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
LAYOUT=$(fixture_build multi)
MAN="$LAYOUT/blobs/sha256/$(_fx_manifest "$LAYOUT" multi)"
W="$HARNESS_DIR/bk"
mkdir -p "$W"

# cache config: layer i's parent is i-1; layer 1 omits "parent" (= 0)
jq -c '{layers: [.layers | to_entries[] | if .key == 0 then {blob: .value.digest, parent: -1}
		elif .key == 1 then {blob: .value.digest} else {blob: .value.digest, parent: (.key - 1)} end],
	records: [{digest: "sha256:d555f362f34e0f396694d81fce520b3519344622129b3219afe2d6d018dc9750",
		layers: [{layer: 4, createdAt: "2025-03-04T10:15:02.481516231Z"}]}]}' "$MAN" | tr -d '\n' >"$W/config.json"
CFG_DIGEST="sha256:$(sha256sum "$W/config.json" | cut -d' ' -f1)"
CFG_SIZE=$(stat -c %s "$W/config.json")
for d in $(jq -r '.layers[].digest' "$MAN"); do
	registry_push_blob fs/bkcache "$LAYOUT/blobs/sha256/${d#sha256:}" >/dev/null || harness_fail "push layer $d"
done
registry_push_blob fs/bkcache "$W/config.json" >/dev/null || harness_fail "push cache config"

jq -c --arg d "$CFG_DIGEST" --argjson s "$CFG_SIZE" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.buildkit.cacheconfig.v0", digest: $d, size: $s},
	layers: [.layers[] | {mediaType, digest, size}]}' "$MAN" | tr -d '\n' >"$W/manifest.json"
registry_push_manifest fs/bkcache image "$W/manifest.json" application/vnd.oci.image.manifest.v1+json >/dev/null ||
	harness_fail "push the image-manifest=true cache manifest"
jq -c --arg d "$CFG_DIGEST" --argjson s "$CFG_SIZE" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: ([.layers[] | {mediaType, digest, size}] +
		[{mediaType: "application/vnd.buildkit.cacheconfig.v0", digest: $d, size: $s}])}' "$MAN" |
	tr -d '\n' >"$W/index.json"
if ! out=$(registry_push_manifest fs/bkcache legacy "$W/index.json" application/vnd.oci.image.index.v1+json); then
	tap_fail "the registry accepts the legacy cache index" "$out"
fi

# references: the whole image, and its first two layers as an image of their own
umoci_unpack "$(fixture_ref multi)" "$W/ref-all"
TWO="$W/two"
cp -a "$LAYOUT" "$TWO"
CONF="$TWO/blobs/sha256/$(jq -r '.config.digest' "$MAN" | cut -d: -f2)"
jq -c '.rootfs.diff_ids |= .[0:2] | .history |= (.[0:2] // null)' "$CONF" >"$W/two-config.json"
read -r cd cs < <(_fx_put_blob "$TWO" "$W/two-config.json")
jq -c --arg d "$cd" --argjson s "$cs" '.layers |= .[0:2] | .config.digest = $d | .config.size = $s' "$MAN" >"$W/two-man.json"
read -r md ms < <(_fx_put_blob "$TWO" "$W/two-man.json")
jq --arg d "$md" --argjson s "$ms" '.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json",
	digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": "two"}}]' \
	"$TWO/index.json" >"$TWO/index.json.new" && mv "$TWO/index.json.new" "$TWO/index.json"
umoci_unpack "$TWO:two" "$W/ref-two"
tree_dump "$W/ref-two/rootfs" >"$W/want-two.txt"
tree_dump "$W/ref-all/rootfs" >"$W/want-all.txt"

check_view() { # FORM MNT
	local form=$1 mnt=$2 want
	tap_is "$(ls "$mnt" | tr '\n' ' ')" "cache-config.json chains layers " "$form: root holds cache-config.json, chains/, layers/"
	want=$(jq -r '.layers | to_entries[] | "\(.key) \(.value.digest)"' "$MAN" |
		while read -r i d; do printf '%02d-%s\n' "$i" "$(echo "${d#sha256:}" | cut -c1-12)"; done)
	tap_is "$(ls "$mnt/layers")" "$want" "$form: layers/NN-<short digest> in cache config order"
	files0=$(stat -f -c %c "$mnt")
	tap_is "$(ls "$mnt/chains" | tr '\n' ' ')" "00 01 02 03 04 " "$form: chains/00..04"
	tap_is "$(stat -f -c %c "$mnt")" "$files0" "$form: listing chains/ merges no chain (lazy)"
	ls "$mnt/chains/01" >/dev/null
	tap_ok "$form: entering chains/01 merges it (statfs files $files0 -> $(stat -f -c %c "$mnt"))" \
		test "$(stat -f -c %c "$mnt")" -gt "$files0"
	tap_ok "$form: cache-config.json is the exact config blob" cmp "$W/config.json" "$mnt/cache-config.json"
	tap_not "$form: cache-config.json is read-only" sh -c "echo x >>'$mnt/cache-config.json'"
	tree_dump "$mnt/chains/01" >"$W/got-two.txt"
	tap_ok "$form: chains/01 = layer 0 + layer 1 merged" diff -u "$W/want-two.txt" "$W/got-two.txt"
	tree_dump "$mnt/chains/04" >"$W/got-all.txt"
	tap_ok "$form: chains/04 = the whole image" diff -u "$W/want-all.txt" "$W/got-all.txt"
	tap_ok "$form: layers/01 alone shows the whiteout" test -f "$mnt/layers/$(ls "$mnt/layers" | sed -n 2p)/.wh.gone.txt"
	tap_ok "$form: chains/01 hides gone.txt" test ! -e "$mnt/chains/01/gone.txt"
	tap_ok "$form: chains/00 still has gone.txt" test -f "$mnt/chains/00/gone.txt"
}

MNT="$HARNESS_DIR/mnt-image"
if fsd_mount fs/bkcache:image "$MNT"; then
	tap_pass "mount the image-manifest=true cache"
	check_view image "$MNT"
	tap_is "$("$STRATA" stats "$MNT" --json | jq -r .mount.view)" "buildkit-cache" "stats name the view"
	tap_ok "unmount" fsd_umount "$MNT"
else
	tap_fail "mount the image-manifest=true cache"
fi
MNT="$HARNESS_DIR/mnt-legacy"
if fsd_mount fs/bkcache:legacy "$MNT"; then
	tap_pass "mount the legacy index cache"
	check_view legacy "$MNT"
	tap_ok "unmount" fsd_umount "$MNT"
else
	tap_fail "mount the legacy index cache"
fi
tap_done
