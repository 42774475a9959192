#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata cache du / prune on the cache a live mount uses: du counts what the
# mount stored (its index, the spans it read), prune evicts least recently
# used files down to a size (0 empties it), and the mount goes on serving
# the right bytes, fetching again what was evicted.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
fsd_init

registry_start plain
D=$HARNESS_DIR/tree
mkdir -p "$D"
for i in 1 2 3 4; do head -c 3000000 /dev/urandom >"$D/f$i"; done
tap_ok "push a tree of four 3 MB files (1 MiB spans)" \
	strata_run push "$D" "$REGISTRY/cc/t:1" --span-size 1048576
MNT=$HARNESS_DIR/mnt
# a small memory budget, so the re-reads below fetch again rather than hit decoded spans in memory
tap_ok "mount it (-o mem_max=2M)" fsd_mount cc/t:1 "$MNT" mem_max=2M
# drop the kernel's page cache of the files, so the reads below reach the daemon
evict() { /usr/bin/python3 -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' "$MNT"/f*; }
du_json() { "$STRATA" cache du --cache "$FSD_CACHE" --json; }
tap_is "$(du_json | jq .span_files)" 0 "nothing read yet: no span file"
tap_is "$(du_json | jq .index_files)" 1 "... one index file (the layer's)"
for i in 1 2 3 4; do cmp "$D/f$i" "$MNT/f$i" || tap_fail "f$i reads back"; done
SPANS=$(du_json | jq .span_files)
tap_ok "after reading every file, span files are cached ($SPANS)" test "$SPANS" -ge 11
BYTES=$(du_json | jq .bytes)
tap_ok "du in text names the cache" sh -c "'$STRATA' cache --cache '$FSD_CACHE' | grep -q '^cache: *$FSD_CACHE'"

HALF=$((BYTES / 2))
tap_ok "prune to half the size" "$STRATA" cache prune "$HALF" --cache "$FSD_CACHE"
AFTER=$(du_json | jq .bytes)
tap_ok "... at most $HALF bytes remain ($AFTER)" test "$AFTER" -le "$HALF"
tap_ok "... and some remain" test "$AFTER" -gt 0
evict
tap_ok "the mount still reads every file right" sh -c \
	"for i in 1 2 3 4; do cmp '$D/f'\$i '$MNT/f'\$i || exit 1; done"
tap_ok "prune 0" "$STRATA" cache prune 0 --cache "$FSD_CACHE"
tap_is "$(du_json | jq '.span_files + .index_files')" 0 "... empties the cache"
evict
tap_ok "the mount still reads every file right (fetched again)" sh -c \
	"for i in 1 2 3 4; do cmp '$D/f'\$i '$MNT/f'\$i || exit 1; done"
tap_ok "... and the span files are back" test "$(du_json | jq .span_files)" -ge 11
tap_ok "unmount" fsd_umount "$MNT"

rc=0
"$STRATA" cache prune lots --cache "$FSD_CACHE" 2>/dev/null || rc=$?
tap_is "$rc" 2 "prune with a bad size is a usage error"
rc=0
"$STRATA" cache shrink --cache "$FSD_CACHE" 2>/dev/null || rc=$?
tap_is "$rc" 2 "an unknown verb is a usage error"
tap_done
