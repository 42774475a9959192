#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# 16 threads read random ranges of random files of a 3-layer image through
# the mount while -o prefetch=all fetches everything in the background; every
# range equals the same range of `umoci unpack` of the image. The cache
# holds the indexes only when the mount starts, so reads and prefetch race
# for the same spans. Then the whole tree equals the unpacked one.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
MNT="$HARNESS_DIR/mnt"

L="$HARNESS_DIR/layout"
T="$HARNESS_DIR/tree"
for l in 1 2 3; do
	mkdir -p "$T/l$l/d$l"
	for i in 1 2 3; do _fx_rand "conc-$l-$i" $((1048576 * (i + l))) >"$T/l$l/d$l/r$i.bin"; done
	_fx_text $((30000 * l)) >"$T/l$l/d$l/text.txt"
	for i in $(seq 1 40); do _fx_rand "conc-small-$l-$i" $((i * 997)) >"$T/l$l/d$l/s$i"; done
done
# layer 3 overrides a file of layer 1
_fx_rand conc-override 3000000 >"$T/l3/d3/over.bin"
{
	umoci init --layout "$L"
	umoci new --image "$L:c"
	umoci insert --image "$L:c" "$T/l1" /
	umoci insert --image "$L:c" "$T/l2" /
	umoci insert --image "$L:c" "$T/l3" /
	umoci insert --image "$L:c" "$T/l3/d3/over.bin" /d1/r2.bin
} >"$HARNESS_DIR/umoci.log" 2>&1 || harness_fail "cannot build the image: $(cat "$HARNESS_DIR/umoci.log")"
skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$L:c" "docker://$REGISTRY/fs/conc:v1" ||
	harness_fail "cannot push the image"
umoci_unpack "$L:c" "$HARNESS_DIR/ref"
WANT="$HARNESS_DIR/ref/rootfs"

# indexes first (the cold mount streams every layer), then a cache of indexes only
tap_ok "cold mount" fsd_mount fs/conc:v1 "$MNT"
tap_ok "unmount" fsd_umount "$MNT"
WARM=$FSD_CACHE
FSD_CACHE="$HARNESS_DIR/cache2"
mkdir -p "$FSD_CACHE/v1"
cp -a "$WARM/v1/built" "$FSD_CACHE/v1/"
tap_ok "mount with prefetch=all on a cache of indexes only" fsd_mount fs/conc:v1 "$MNT" prefetch=all
PID=$(fsd_pid "$MNT")

tap_timed /usr/bin/python3 - "$WANT" "$MNT" <<'PY'
import os, random, sys, threading, time
want, mnt = sys.argv[1], sys.argv[2]
files = []
for d, _, fs in os.walk(want):
    for f in fs:
        p = os.path.relpath(os.path.join(d, f), want)
        files.append((p, os.path.getsize(os.path.join(want, p))))
files.sort()
errors, counts = [], [0] * 16
deadline = time.monotonic() + 8

def worker(n):
    rnd = random.Random(n)
    while time.monotonic() < deadline and not errors:
        p, size = rnd.choice(files)
        off = rnd.randrange(size) if size else 0
        ln = rnd.choice([1, 100, 4096, 65536, 131072 + 7, 1 << 20, 3 << 20])
        try:
            with open(os.path.join(want, p), "rb") as f:
                exp = os.pread(f.fileno(), ln, off)
            with open(os.path.join(mnt, p), "rb") as f:
                got = os.pread(f.fileno(), ln, off)
        except OSError as e:
            errors.append("%s @%d+%d: %s" % (p, off, ln, e))
            return
        if got != exp:
            errors.append("%s @%d+%d: %d bytes, want %d, differ" % (p, off, ln, len(got), len(exp)))
            return
        counts[n] += 1

ts = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("reads per thread:", counts)
if errors:
    print("\n".join(errors[:10]))
    sys.exit(1)
if min(counts) < 5:
    print("a thread read too little")
    sys.exit(1)
PY
if [ "$TAP_RC" = 0 ]; then
	tap_pass "16 threads, random ranges of random files, every byte right (${TAP_SECS} s)"
	tap_diag "$(cat "$TAP_OUT")"
else
	tap_fail "16 threads, random ranges of random files, every byte right" "$(head -c 3000 "$TAP_OUT")"
fi
tap_ok "the daemon is alive" kill -0 "$PID"
tap_ok "still mounted" fsd_is_mounted "$MNT"

# prefetch=all fetches every span sooner or later
spans_done() {
	local i
	for i in $(seq 1 300); do
		"$STRATA" stats "$MNT" --json >"$HARNESS_DIR/stats.json" 2>/dev/null &&
			jq -e '.totals.spans_total > 0 and .totals.spans_cached >= .totals.spans_total' \
				"$HARNESS_DIR/stats.json" >/dev/null &&
			return 0
		sleep 0.1
	done
	cat "$HARNESS_DIR/stats.json"
	return 1
}
tap_ok "prefetch=all fetched every span" spans_done
tree_dump "$WANT" >"$HARNESS_DIR/want.txt"
tree_dump "$MNT" >"$HARNESS_DIR/got.txt"
if diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got.txt" >"$HARNESS_DIR/diff.txt"; then
	tap_pass "the tree equals umoci unpack ($(wc -l <"$HARNESS_DIR/want.txt") paths)"
else
	tap_fail "the tree equals umoci unpack" "$(head -c 3000 "$HARNESS_DIR/diff.txt")"
fi
tap_ok "unmount" fsd_umount "$MNT"
tap_not "nothing left mounted" fsd_is_mounted "$MNT"
tap_done
