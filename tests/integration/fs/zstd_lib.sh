#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sourced, not a test. zstd_push_single DIR REPO:TAG [LEVEL]: DIR as an image
# of one tar+zstd layer written as ONE zstd frame, as the zstd CLI, BuildKit
# and most writers make it (GNU tar, the zstd CLI, curl: no stratafs code).
# Sets ZS_TAR (the tar, the oracle), ZS_BLOB (the compressed layer),
# ZS_DIGEST (its digest) and ZS_SIZE (its size).
zstd_push_single() {
	local dir=$1 repo=${2%:*} tag=${2##*:} level=${3:-3} w="$HARNESS_DIR/zs-$RANDOM" diff cfg man
	mkdir -p "$w"
	ZS_TAR="$w/layer.tar"
	ZS_BLOB="$w/layer.tar.zst"
	tar -C "$dir" --sort=name --format=pax -cf "$ZS_TAR" . || return 1
	zstd -q -T1 "-$level" -c "$ZS_TAR" >"$ZS_BLOB" || return 1
	diff="sha256:$(sha256sum "$ZS_TAR" | cut -d' ' -f1)"
	ZS_DIGEST="sha256:$(sha256sum "$ZS_BLOB" | cut -d' ' -f1)"
	ZS_SIZE=$(stat -c %s "$ZS_BLOB")
	cfg="$w/config.json"
	jq -nc --arg d "$diff" '{architecture: "amd64", os: "linux",
		rootfs: {type: "layers", diff_ids: [$d]}, config: {}}' >"$cfg"
	man="$w/manifest.json"
	jq -nc --arg cd "sha256:$(sha256sum "$cfg" | cut -d' ' -f1)" --argjson cs "$(stat -c %s "$cfg")" \
		--arg ld "$ZS_DIGEST" --argjson ls "$ZS_SIZE" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: $ld, size: $ls}]}' >"$man"
	registry_push_blob "$repo" "$cfg" >/dev/null || return 1
	registry_push_blob "$repo" "$ZS_BLOB" >/dev/null || return 1
	registry_push_manifest "$repo" "$tag" "$man" application/vnd.oci.image.manifest.v1+json >/dev/null
}

# zstd_frames FILE: how many zstd frames FILE holds (zstd -l)
zstd_frames() {
	zstd -lv "$1" 2>/dev/null | sed -nE 's/^# Zstandard Frames: *([0-9]+).*/\1/p'
}

# vm_hwm PID: the peak resident set of PID, in KiB
vm_hwm() {
	sed -nE 's/^VmHWM:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$1/status"
}
