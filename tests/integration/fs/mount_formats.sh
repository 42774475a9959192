#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The same trees through other manifest and layer formats: Docker v2
# schema 2 (multi), tar+zstd layers (multi), a plain tar layer (single).
# Each mounted tree equals umoci unpack of the gzip original.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
MNT="$HARNESS_DIR/mnt"
umoci_unpack "$(fixture_ref multi)" "$HARNESS_DIR/ref-multi"
umoci_unpack "$(fixture_ref single)" "$HARNESS_DIR/ref-single"
tree_dump "$HARNESS_DIR/ref-multi/rootfs" >"$HARNESS_DIR/want-multi.txt"
tree_dump "$HARNESS_DIR/ref-single/rootfs" >"$HARNESS_DIR/want-single.txt"

for f in v2s2:multi zstd:multi uncompressed:single; do
	name=${f%%:*}
	want=${f##*:}
	fixture_push "$name" "fs/$name:v1"
	if fsd_mount "fs/$name:v1" "$MNT"; then
		tap_pass "$name: mount"
		tree_dump "$MNT" >"$HARNESS_DIR/got-$name.txt"
		tap_ok "$name: tree equals umoci unpack of the original" \
			diff -u "$HARNESS_DIR/want-$want.txt" "$HARNESS_DIR/got-$name.txt"
		tap_ok "$name: unmount" fsd_umount "$MNT"
	else
		tap_fail "$name: mount"
	fi
done
tap_done
