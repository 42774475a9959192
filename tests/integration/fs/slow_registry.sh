#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Parallel readers over a slow registry (the fault proxy throttles every
# blob response to 3 MB/s per connection): 8 threads read random 1 MiB
# ranges of a 60 MiB file (4 MiB spans) for 10 s with io_timeout=4. A span
# takes ~1.4 s to arrive, so the first reads meet io_timeout only if their
# fetches queue behind each other instead of running in parallel (two at a
# time: ~5.6 s for 8 spans; eight: ~1.4 s). Every read must succeed with
# the right bytes.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
fsd_init

registry_start plain
S=$HARNESS_DIR/src
mkdir -p "$S"
head -c $((60 << 20)) /dev/urandom >"$S/r60.bin"
tap_ok "push a 60 MiB file with 4 MiB spans" \
	strata_run push "$S" "$REGISTRY/px/x:1" --span-size 4194304
proxy_start
proxy_mode "slow rate=3000000 path=/blobs/"
M=$HARNESS_DIR/mnt
mkdir -p "$M"
harness_on_exit "fusermount3 -u -z '$M' 2>/dev/null"
tap_ok "mount through the throttling proxy (io_timeout=4)" \
	"$STRATAFS" "$PROXY/px/x:1" "$M" -o "insecure,cache=$FSD_CACHE,io_timeout=4"
cat >"$HARNESS_DIR/readers.py" <<'PY'
import os, random, sys, threading, time
src, mnt = sys.argv[1], sys.argv[2]
size = os.path.getsize(src)
res = {"ok": 0, "eio": 0, "short": 0, "bad": 0}
lock = threading.Lock()
end = time.monotonic() + 10
def reader(n):
    rnd = random.Random(n)
    while time.monotonic() < end:
        off = rnd.randrange(size - (1 << 20))
        try:
            with open(mnt, "rb") as f:
                got = os.pread(f.fileno(), 1 << 20, off)
            with open(src, "rb") as f:
                want = os.pread(f.fileno(), 1 << 20, off)
            k = "ok" if got == want else "short" if want.startswith(got) else "bad"
        except OSError:
            k = "eio"
        with lock:
            res[k] += 1
ts = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(res["ok"], res["eio"], res["short"], res["bad"])
PY
read -r OK EIO SHORT BAD < <(timeout 120 /usr/bin/python3 "$HARNESS_DIR/readers.py" "$S/r60.bin" "$M/r60.bin" || echo "0 -1 -1 -1")
tap_ok "8 readers got data ($OK reads)" test "$OK" -gt 8
tap_is "$EIO" 0 "... no read failed (EIO)"
tap_is "$BAD" 0 "... no read returned wrong bytes"
tap_ok "unmount" fsd_umount "$M"
tap_done
