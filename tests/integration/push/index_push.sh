#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata index REF --push and stratafs -o push_index against a real
# registry: images pushed by skopeo (gzip multi-layer, zstd) and a BuildKit
# cache (image-manifest=true form) have no stratafs index; `strata index
# --push` stores one per layer (inspect says so, a second run skips them);
# a mount with an EMPTY local cache then takes every index from the
# registry and GETs no layer blob while mounting, walking and stat'ing;
# reading one file fetches only its spans. -o push_index: a mount that had
# to build its indexes pushes them, so the next cold mount finds them.
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
fsd_init
registry_start plain
SPAN=65536

fixture_push multi push/multi:v1 >/dev/null || harness_fail "push multi"
fixture_push zstd push/zstd:v1 >/dev/null || harness_fail "push zstd"
fixture_push single push/single:v1 >/dev/null || harness_fail "push single"
fixture_push index push/index:v1 >/dev/null || harness_fail "push index"

# A BuildKit cache (image-manifest=true) over the layers of "multi".
LAYOUT=$(fixture_build multi)
MAN="$LAYOUT/blobs/sha256/$(_fx_manifest "$LAYOUT" multi)"
W="$HARNESS_DIR/bk"
mkdir -p "$W"
jq -c '{layers: [.layers | to_entries[] | if .key == 0 then {blob: .value.digest, parent: -1}
	else {blob: .value.digest, parent: (.key - 1)} end], records: []}' "$MAN" | tr -d '\n' >"$W/config.json"
for d in $(jq -r '.layers[].digest' "$MAN"); do
	registry_push_blob push/bkcache "$LAYOUT/blobs/sha256/${d#sha256:}" >/dev/null || harness_fail "push layer $d"
done
registry_push_blob push/bkcache "$W/config.json" >/dev/null || harness_fail "push cache config"
jq -c --arg d "sha256:$(sha256sum "$W/config.json" | cut -d' ' -f1)" --argjson s "$(stat -c %s "$W/config.json")" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.buildkit.cacheconfig.v0", digest: $d, size: $s},
	layers: [.layers[] | {mediaType, digest, size}]}' "$MAN" | tr -d '\n' >"$W/manifest.json"
registry_push_manifest push/bkcache cache "$W/manifest.json" application/vnd.oci.image.manifest.v1+json >/dev/null ||
	harness_fail "push the BuildKit cache manifest"
# ... and the legacy form (an index whose entries are the layers and the config), in its own repo
for d in $(jq -r '.layers[].digest' "$MAN"); do
	registry_push_blob push/bklegacy "$LAYOUT/blobs/sha256/${d#sha256:}" >/dev/null || harness_fail "push layer $d"
done
registry_push_blob push/bklegacy "$W/config.json" >/dev/null || harness_fail "push cache config"
jq -c --arg d "sha256:$(sha256sum "$W/config.json" | cut -d' ' -f1)" --argjson s "$(stat -c %s "$W/config.json")" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: ([.layers[] | {mediaType, digest, size}] +
		[{mediaType: "application/vnd.buildkit.cacheconfig.v0", digest: $d, size: $s}])}' "$MAN" |
	tr -d '\n' >"$W/index.json"
registry_push_manifest push/bklegacy cache "$W/index.json" application/vnd.oci.image.index.v1+json >/dev/null ||
	harness_fail "push the legacy BuildKit cache index"

has_index() { # REPO:TAG -> one true/false per layer
	strata_run inspect "$REGISTRY/$1" --json | jq -r '.layers[].stratafsIndex' | sort -u | tr '\n' ' '
}

for r in multi:v1 zstd:v1 bkcache:cache bklegacy:cache; do
	tap_is "$(has_index "push/$r")" "false " "$r: no layer has a stratafs index before"
done

for r in multi:v1 zstd:v1 bkcache:cache bklegacy:cache; do
	if out=$(strata_run index "$REGISTRY/push/$r" --push --span-size $SPAN --json); then
		tap_pass "$r: strata index --push"
	else
		tap_fail "$r: strata index --push" "$(cat "$STRATA_ERR")"
	fi
	n=$(jq '.layers | length' <<<"$out")
	tap_is "$(jq '[.layers[] | select(.status == "built" and .entries > 0 and .spans > 0)] | length' <<<"$out")" \
		"$n" "$r: every layer built ($n), with entries and spans"
	tap_ok "$r: an artifact was pushed" jq -e '.pushed | test("^sha256:")' <<<"$out"
	tap_is "$(has_index "push/$r")" "true " "$r: inspect now shows stratafsIndex true for every layer"
	out=$(strata_run index "$REGISTRY/push/$r" --json)
	tap_is "$(jq -r '[.layers[].status] | unique | join(" ")' <<<"$out")" "skipped" \
		"$r: a second run skips every layer (index exists in the registry)"
done
tap_is "$(strata_run index "$REGISTRY/push/zstd:v1" --json | jq -r '.pushed')" "null" "without --push nothing is pushed"

# Mount with an empty cache: indexes from the registry, no layer GET while
# mounting, walking, stat'ing.
cold_mount_check() { # REPO:TAG MNT
	local ref=$1 mnt=$2 d bad=0 src
	rm -rf "$FSD_CACHE" && mkdir -p "$FSD_CACHE"
	registry_log_mark
	fsd_mount "$ref" "$mnt" || return 1
	find "$mnt" >/dev/null
	find "$mnt" -type f -exec stat -c %s {} + >/dev/null
	src=$("$STRATA" stats "$mnt" --json | jq -r '[.layers[].index_source] | unique | join(" ")')
	tap_is "$src" "registry" "$ref: cold mount takes every index from the registry"
	for d in $(strata_run inspect "$REGISTRY/$ref" --json | jq -r '.layers[].digest'); do
		if [ "$(registry_bytes_served "$d")" != 0 ]; then
			bad=1
			tap_diag "$ref: layer $d: $(registry_bytes_served "$d") bytes served during mount+find+stat"
		fi
	done
	tap_is "$bad" 0 "$ref: no layer blob bytes fetched during mount + find + stat"
}

cold_mount_check push/multi:v1 "$HARNESS_DIR/m1"
# Read 8 KiB in the middle of big/large.bin (1.5 MiB of the base layer's 16
# spans; a read at offset 0 would claim the whole file): only the spans
# covering it (plus kernel and store readahead) are fetched.
base=$(strata_run inspect "$REGISTRY/push/multi:v1" --json | jq -r '.layers[0].digest')
bsize=$(strata_run inspect "$REGISTRY/push/multi:v1" --json | jq -r '.layers[0].size')
tap_ok "multi: read 8 KiB at 800 KiB of big/large.bin" sh -c "dd if='$HARNESS_DIR/m1/big/large.bin' bs=8192 skip=100 count=1 2>/dev/null | wc -c | grep -qx 8192"
got=$(registry_bytes_served "$base")
tap_ok "multi: that read fetched only a few spans ($got of $bsize bytes of the base layer)" \
	test "$got" -gt 0 -a "$got" -lt "$((bsize / 4))"
st=$("$STRATA" stats "$HARNESS_DIR/m1" --json | jq -c --arg d "$base" '.layers[] | select(.digest == $d) | [.spans_fetched, .spans_total]')
tap_ok "multi: stats agree: spans fetched/total $st" jq -e '.[0] > 0 and .[0] < .[1] / 4' <<<"$st"
fsd_umount "$HARNESS_DIR/m1" || tap_fail "unmount m1"

cold_mount_check push/zstd:v1 "$HARNESS_DIR/m2"
tap_ok "zstd: files read back" sh -c "find '$HARNESS_DIR/m2' -type f -size -64k -exec cat {} + >/dev/null"
fsd_umount "$HARNESS_DIR/m2" || tap_fail "unmount m2"

cold_mount_check push/bkcache:cache "$HARNESS_DIR/m3"
tap_ok "bkcache: the view has chains/" test -d "$HARNESS_DIR/m3/chains/00"
fsd_umount "$HARNESS_DIR/m3" || tap_fail "unmount m3"
cold_mount_check push/bklegacy:cache "$HARNESS_DIR/m3b"
tap_ok "bklegacy: the view has chains/" test -d "$HARNESS_DIR/m3b/chains/04"
fsd_umount "$HARNESS_DIR/m3b" || tap_fail "unmount m3b"

# A multi-platform index: the artifact is for the selected platform's manifest.
ARM=(--platform linux/arm64/v8)
tap_is "$(strata_run inspect "$REGISTRY/push/index:v1" "${ARM[@]}" --json | jq -r '.layers[].stratafsIndex' | sort -u)" \
	"false" "index (arm64): no index before"
tap_ok "index (arm64): strata index --push --platform" strata_run index "$REGISTRY/push/index:v1" "${ARM[@]}" --push
tap_is "$(strata_run inspect "$REGISTRY/push/index:v1" "${ARM[@]}" --json | jq -r '.layers[].stratafsIndex' | sort -u)" \
	"true" "index (arm64): inspect --platform shows the index"
rm -rf "$FSD_CACHE" && mkdir -p "$FSD_CACHE"
fsd_mount push/index:v1 "$HARNESS_DIR/m6" platform=linux/arm64/v8 || tap_fail "mount index arm64"
tap_is "$("$STRATA" stats "$HARNESS_DIR/m6" --json | jq -r '[.layers[].index_source] | unique | join(" ")')" \
	"registry" "index (arm64): the cold mount of that platform takes its index from the registry"
fsd_umount "$HARNESS_DIR/m6" || tap_fail "unmount m6"

# -o push_index: single has no index anywhere, so the mount builds and pushes it.
tap_is "$(has_index push/single:v1)" "false " "single: no index before push_index"
rm -rf "$FSD_CACHE" && mkdir -p "$FSD_CACHE"
fsd_mount push/single:v1 "$HARNESS_DIR/m4" push_index || tap_fail "mount with push_index"
tap_is "$("$STRATA" stats "$HARNESS_DIR/m4" --json | jq -r '[.layers[].index_source] | unique | join(" ")')" \
	"built" "single: the push_index mount built its index"
for i in $(seq 1 100); do
	[ "$(has_index push/single:v1)" = "true " ] && break
	sleep 0.1
done
tap_is "$(has_index push/single:v1)" "true " "single: push_index stored the index in the registry"
fsd_umount "$HARNESS_DIR/m4" || tap_fail "unmount m4"
cold_mount_check push/single:v1 "$HARNESS_DIR/m5"
tap_is "$("$STRATA" stats "$HARNESS_DIR/m5" --json | jq -r '[.layers[].index_trust] | unique | join(" ")')" \
	"unpinned" "single: the next mount by tag trusts what push_index published (the tag's writers could move the tag too)"
fsd_umount "$HARNESS_DIR/m5" || tap_fail "unmount m5"
# ... but nothing pins it: a mount by digest, or by tag with unpinned=never, builds its own
SD=$(strata_run inspect "$REGISTRY/push/single:v1" --json | jq -r .digest)
for how in "push/single@$SD|" "push/single:v1|unpinned=never"; do
	rm -rf "$FSD_CACHE" && mkdir -p "$FSD_CACHE"
	fsd_mount "${how%|*}" "$HARNESS_DIR/m5b" "${how#*|}" || tap_fail "mount ${how%|*}"
	tap_is "$("$STRATA" stats "$HARNESS_DIR/m5b" --json | jq -r '[.layers[].index_trust] | unique | join(" ")')" \
		"built" "single: ${how%|*} ${how#*|}: the unpinned index push_index published is not used"
	fsd_umount "$HARNESS_DIR/m5b" || tap_fail "unmount m5b"
done
# strata index --push --tag turns it into a pinned reference: lazy by digest
PIN=$(strata_run index "$REGISTRY/push/single:v1" --push --tag v1-pinned --json | jq -r .pinned)
rm -rf "$FSD_CACHE" && mkdir -p "$FSD_CACHE"
fsd_mount "${PIN#"$REGISTRY"/}" "$HARNESS_DIR/m5c" || tap_fail "mount $PIN"
tap_is "$("$STRATA" stats "$HARNESS_DIR/m5c" --json | jq -r '[.layers[] | "\(.index_trust)/\(.index_source)"] | unique | join(" ")')" \
	"pinned/registry" "single: by the pinning index's digest, the index is pinned and comes from the registry"
fsd_umount "$HARNESS_DIR/m5c" || tap_fail "unmount m5c"

# BuildKit caches of both forms get a pinning index too: lazy and trusted by digest.
for r in bkcache bklegacy; do
	PIN=$(strata_run index "$REGISTRY/push/$r:cache" --push --tag pinned --json | jq -r .pinned)
	rm -rf "$FSD_CACHE" && mkdir -p "$FSD_CACHE"
	registry_log_mark
	fsd_mount "${PIN#"$REGISTRY"/}" "$HARNESS_DIR/m8" || tap_fail "mount $PIN"
	tap_is "$("$STRATA" stats "$HARNESS_DIR/m8" --json | jq -r '[.mount.view] + [.layers[].index_trust] | unique | join(" ")')" \
		"buildkit-cache pinned" "$r: by its pinning index's digest: the cache view, every index pinned"
	tap_ok "$r: the view has chains/" test -d "$HARNESS_DIR/m8/chains/04"
	served=0
	for d in $(jq -r '.layers[].digest' "$MAN"); do
		served=$((served + $(registry_bytes_served "$d")))
	done
	tap_is "$served" 0 "$r: mounting it fetched no layer bytes"
	fsd_umount "$HARNESS_DIR/m8" || tap_fail "unmount m8"
done

# push_index when the registry refuses the upload (the fault proxy answers
# every POST with 403): the mount still comes up and serves; the failure is logged.
fixture_push v2s2 push/refused:v1 >/dev/null || harness_fail "push v2s2"
proxy_start
proxy_mode "status code=403 method=POST" "pass"
rm -rf "$FSD_CACHE" && mkdir -p "$FSD_CACHE"
M7=$HARNESS_DIR/m7
mkdir -p "$M7"
harness_on_exit "fusermount3 -u -z '$M7' 2>/dev/null"
"$STRATAFS" "$PROXY/push/refused:v1" "$M7" -f -o "insecure,push_index,cache=$FSD_CACHE" >"$HARNESS_DIR/m7.log" 2>&1 &
M7PID=$!
for i in $(seq 1 100); do fsd_is_mounted "$M7" && break; sleep 0.1; done
tap_ok "push refused: the push_index mount is up" fsd_is_mounted "$M7"
tap_ok "push refused: files are served" test -s "$M7/keep/a.txt"
for i in $(seq 1 100); do grep -q "push_index: cannot push" "$HARNESS_DIR/m7.log" && break; sleep 0.1; done
tap_ok "push refused: the failure is logged" grep -q "push_index: cannot push" "$HARNESS_DIR/m7.log"
tap_ok "push refused: still mounted after the failed push" fsd_is_mounted "$M7"
fusermount3 -u "$M7" || tap_fail "unmount m7"
wait "$M7PID"
tap_is "$?" 0 "push refused: the daemon exits 0 at unmount"
proxy_stop

# Digests are verified: flip one byte of single's layer in the registry's
# storage; --force makes strata stream it again, which must fail and push nothing.
BLOB=$(strata_run inspect "$REGISTRY/push/single:v1" --json | jq -r '.layers[0].digest')
DATA=$(find "$REGISTRY_STORAGE" -path "*/blobs/sha256/*/${BLOB#sha256:}/data")
tap_ok "found the stored layer ($DATA)" test -f "$DATA"
/usr/bin/python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000); b = f.read(1); f.seek(1000); f.write(bytes([b[0] ^ 0xff]))' "$DATA"
registry_log_mark
if strata_run index "$REGISTRY/push/single:v1" --push --force >/dev/null; then
	tap_fail "a corrupted layer is refused"
else
	tap_pass "a corrupted layer is refused (exit != 0)"
fi
tap_ok "... with a digest error" grep -qiE "match|bad message" "$STRATA_ERR"
tap_is "$(registry_requests PUT '/manifests/')" 0 "... and no artifact manifest was pushed"

tap_done
