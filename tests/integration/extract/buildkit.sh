#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata ls/extract of a BuildKit registry cache (both forms, hand-built
# over the layers of the "multi" fixture as tests/integration/fs/
# view_buildkit.sh does). A cache has no single merged tree: the CLI shows
# one chain, by default the last config layer's (here the whole image),
# --chain N another, --layer N one layer alone (whiteouts as files).
set -euo pipefail
. "$(dirname "$0")/extract_lib.sh"
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
	registry_push_blob ex/bkcache "$LAYOUT/blobs/sha256/${d#sha256:}" >/dev/null || harness_fail "push layer $d"
done
registry_push_blob ex/bkcache "$W/config.json" >/dev/null || harness_fail "push cache config"

jq -c --arg d "$CFG_DIGEST" --argjson s "$CFG_SIZE" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.buildkit.cacheconfig.v0", digest: $d, size: $s},
	layers: [.layers[] | {mediaType, digest, size}]}' "$MAN" | tr -d '\n' >"$W/manifest.json"
registry_push_manifest ex/bkcache image "$W/manifest.json" application/vnd.oci.image.manifest.v1+json >/dev/null ||
	harness_fail "push the image-manifest=true cache manifest"
jq -c --arg d "$CFG_DIGEST" --argjson s "$CFG_SIZE" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: ([.layers[] | {mediaType, digest, size}] +
		[{mediaType: "application/vnd.buildkit.cacheconfig.v0", digest: $d, size: $s}])}' "$MAN" |
	tr -d '\n' >"$W/index.json"
if ! out=$(registry_push_manifest ex/bkcache legacy "$W/index.json" application/vnd.oci.image.index.v1+json); then
	tap_fail "the registry accepts the legacy cache index" "$out"
fi
umoci_unpack "$(fixture_ref multi)" "$W/ref-all"
C=(--cache "$FSD_CACHE")

for form in image legacy; do
	REF="$REGISTRY/ex/bkcache:$form"
	rm -rf "$W/out"
	if strata_run extract "$REF" "$W/out" "${C[@]}"; then
		tap_ok "$form: extract of a cache writes its last chain (the whole image, as umoci)" \
			cmp -s <(tree_dump "$W/ref-all/rootfs") <(tree_dump "$W/out")
	else
		tap_fail "$form: extract of a cache" "$(cat "$STRATA_ERR")"
	fi
	tap_is "$(strata_run ls "$REF" keep --chain 0 "${C[@]}" | tr '\n' ' ')" "a.txt b.txt " \
		"$form: ls --chain 0 shows the first layer's tree"
	tap_is "$(strata_run cat "$REF" keep/a.txt --chain 0 "${C[@]}")" "a v1" "$form: cat --chain 0: the file before the last layer changed it"
	tap_is "$(strata_run cat "$REF" keep/a.txt "${C[@]}")" "a v2" "$form: cat of the default chain"
	tap_is "$(strata_run ls "$REF" --layer 1 "${C[@]}" | tr '\n' ' ')" ".wh.gone.txt " \
		"$form: ls --layer 1 shows that layer alone, its whiteout as a file"
	rc=0
	strata_run ls "$REF" --chain 9 "${C[@]}" >/dev/null 2>&1 || rc=$?
	tap_is "$rc" 1 "$form: a chain the cache does not have: exit 1"
done
rc=0
strata_run ls "$REGISTRY/ex/bkcache:image" --layer 1 --chain 2 "${C[@]}" >/dev/null 2>&1 || rc=$?
tap_is "$rc" 0 "--layer wins over --chain"
tap_done
