#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Dense access turns into bulk fetch (fs/bulk.c): once readers have read
# from 60 % of a layer's spans, the rest of it is fetched in the
# background, in parallel runs. strata stats says so (mode "bulk", JSON and
# table), every span ends up cached without another read, the registry
# served at most 1.05x the blob, and the tree equals its source.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain

S="$HARNESS_DIR/src"
mkdir -p "$S/d"
for i in $(seq 10 41); do _fx_rand "bulk-$i" 1000000 >"$S/d/f$i"; done
_fx_text 100000 >"$S/d/t.txt"
strata_run push "$S" "$REGISTRY/fs/bulk:1" --span-size 1048576 >/dev/null ||
	harness_fail "cannot push the image: $(cat "$STRATA_ERR")"

M="$HARNESS_DIR/mnt"
fsd_mount fs/bulk:1 "$M" || harness_fail "cannot mount"
stat_of() { "$STRATA" stats "$M" --json | jq -r ".layers[-1].$1"; }
registry_log_mark
tap_is "$(stat_of mode)" lazy "before any read the layer is lazy"
# 20 of the 32 one-megabyte files, out of order: past 60 % of the layer
for i in 41 12 30 17 25 38 10 33 21 28 14 36 19 23 40 11 34 26 16 31; do
	cat "$M/d/f$i" >/dev/null
done
all_cached() {
	local i
	for i in $(seq 1 150); do
		[ "$(stat_of spans_cached)" = "$(stat_of spans_total)" ] && return 0
		sleep 0.2
	done
	return 1
}
tap_is "$(stat_of mode)" bulk "after reading 20 of 32 files the layer is in bulk mode"
tap_ok "the rest of the layer arrives without being read" all_cached
tap_ok "strata stats (table) shows the mode" bash -c "'$STRATA' stats '$M' | grep -q ' bulk'"
BLOB=$(stat_of blob_size)
DIGEST=$(stat_of digest)
SERVED=$(registry_bytes_served "$DIGEST")
tap_ok "registry bytes $SERVED <= 1.05x the blob ($BLOB)" test $((SERVED * 100)) -le $((BLOB * 105))
tap_ok "strata stats bytes <= 1.05x the blob" test $(($(stat_of bytes_fetched) * 100)) -le $((BLOB * 105))
tap_ok "the tree equals the source" diff -r "$S" "$M"
tap_is "$(registry_bytes_served "$DIGEST")" "$SERVED" "reading it all fetched nothing more"
fsd_umount "$M"
tap_done
