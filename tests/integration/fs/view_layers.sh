#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -o layers: layers/NN-<12 hex>/ per layer (whiteouts shown as-is) plus
# merged/ (equal to the plain mount, i.e. to umoci unpack).
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
fixture_push multi fs/multi:v1
LAYOUT=$(fixture_build multi)
MAN="$LAYOUT/blobs/sha256/$(_fx_manifest "$LAYOUT" multi)"

MNT="$HARNESS_DIR/mnt"
tap_ok "mount with -o layers" fsd_mount fs/multi:v1 "$MNT" layers
tap_is "$(ls "$MNT" | tr '\n' ' ')" "layers merged " "root holds layers/ and merged/"
want=$(jq -r '.layers | to_entries[] | "\(.key) \(.value.digest)"' "$MAN" |
	while read -r i d; do printf '%02d-%s\n' "$i" "$(echo "${d#sha256:}" | cut -c1-12)"; done)
tap_is "$(ls "$MNT/layers")" "$want" "layers/NN-<short digest> in manifest order"

umoci_unpack "$(fixture_ref multi)" "$HARNESS_DIR/ref"
tree_dump "$HARNESS_DIR/ref/rootfs" >"$HARNESS_DIR/want.txt"
tree_dump "$MNT/merged" >"$HARNESS_DIR/got.txt"
tap_ok "merged/ equals umoci unpack" diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got.txt"

l1=$(ls "$MNT/layers" | sed -n 2p)
l3=$(ls "$MNT/layers" | sed -n 4p)
tap_ok "layer 1 alone shows the whiteout of gone.txt" test -f "$MNT/layers/$l1/.wh.gone.txt"
tap_ok "layer 3 alone shows the opaque marker" test -e "$MNT/layers/$l3/opq/.wh..wh..opq"
tap_ok "layer 3 alone has the new opaque content" test -f "$MNT/layers/$l3/opq/new1"
tap_is "$(cat "$MNT/layers/$(ls "$MNT/layers" | sed -n 1p)/keep/a.txt")" "a v1" "layer 0 alone has the old content"
tap_ok "readdir of the synthetic root is stable" sh -c "[ \"\$(ls -f '$MNT')\" = \"\$(ls -f '$MNT')\" ]"
tap_is "$(stat -c %h "$MNT")" "4" "root nlink counts its subdirs"
tap_ok "unmount" fsd_umount "$MNT"
tap_done
