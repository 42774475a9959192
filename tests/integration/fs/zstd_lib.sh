#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sourced, not a test.
#
# zstd_push_layers REPO:TAG [LEVEL] DIR...: an image of one tar+zstd layer
# per DIR, each written as ONE zstd frame, as the zstd CLI, BuildKit and
# most writers make it (GNU tar, the zstd CLI, curl: no stratafs code).
# Sets ZS_DIGESTS (the layers' digests) and, for the first layer, ZS_TAR
# (the tar, the oracle), ZS_BLOB (the compressed layer), ZS_DIGEST and
# ZS_SIZE.
# zstd_push_single DIR REPO:TAG [LEVEL]: the same with one layer.
zstd_push_layers() {
	local repo=${1%:*} tag=${1##*:} level=${2:-3} w="$HARNESS_DIR/zs-$RANDOM" d i=0 cfg man
	local diffs=() layers=()
	shift 2
	mkdir -p "$w"
	ZS_DIGESTS=()
	for d in "$@"; do
		tar -C "$d" --sort=name --format=pax -cf "$w/$i.tar" . || return 1
		zstd -q -T1 "-$level" -c "$w/$i.tar" >"$w/$i.tar.zst" || return 1
		diffs+=("sha256:$(sha256sum "$w/$i.tar" | cut -d' ' -f1)")
		ZS_DIGESTS+=("sha256:$(sha256sum "$w/$i.tar.zst" | cut -d' ' -f1)")
		layers+=("$(jq -nc --arg d "${ZS_DIGESTS[$i]}" --argjson s "$(stat -c %s "$w/$i.tar.zst")" \
			'{mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: $d, size: $s}')")
		registry_push_blob "$repo" "$w/$i.tar.zst" >/dev/null || return 1
		i=$((i + 1))
	done
	ZS_TAR="$w/0.tar"
	ZS_BLOB="$w/0.tar.zst"
	ZS_DIGEST=${ZS_DIGESTS[0]}
	ZS_SIZE=$(stat -c %s "$ZS_BLOB")
	cfg="$w/config.json"
	printf '%s\n' "${diffs[@]}" | jq -R . | jq -sc '{architecture: "amd64", os: "linux",
		rootfs: {type: "layers", diff_ids: .}, config: {}}' >"$cfg"
	man="$w/manifest.json"
	printf '%s\n' "${layers[@]}" | jq -sc --arg cd "sha256:$(sha256sum "$cfg" | cut -d' ' -f1)" \
		--argjson cs "$(stat -c %s "$cfg")" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
		layers: .}' >"$man"
	registry_push_blob "$repo" "$cfg" >/dev/null || return 1
	registry_push_manifest "$repo" "$tag" "$man" application/vnd.oci.image.manifest.v1+json >/dev/null
}

zstd_push_single() {
	zstd_push_layers "$2" "${3:-3}" "$1"
}

# zstd_frames FILE: how many zstd frames FILE holds (zstd -l)
zstd_frames() {
	zstd -lv "$1" 2>/dev/null | sed -nE 's/^# Zstandard Frames: *([0-9]+).*/\1/p'
}

# vm_hwm PID: the peak resident set of PID, in KiB
vm_hwm() {
	sed -nE 's/^VmHWM:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$1/status"
}
