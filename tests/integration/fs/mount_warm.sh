#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A warm read costs no FUSE round trip: once a file's pages are cached, cat
# sends the daemon nothing (no LOOKUP, GETATTR, OPEN, READ, FLUSH or
# RELEASE: zero-message opens, keep_cache, entry and attribute timeouts).
# The kernel's own open still refuses what the daemon's open() refused:
# writing opens and O_TRUNC are EROFS, a directory opens O_RDONLY and
# read() on it is EISDIR. Counted from the daemon's FUSE debug log (-d).
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
fixture_push multi fs/multi:v1

MNT="$HARNESS_DIR/mnt"
LOG="$HARNESS_DIR/fuse-debug.log"
mkdir -p "$MNT"
harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"
"$STRATAFS" "$REGISTRY/fs/multi:v1" "$MNT" -d -o "insecure,cache=$FSD_CACHE" >"$LOG" 2>&1 &
HARNESS_PIDS="$HARNESS_PIDS $!"
for i in $(seq 1 300); do fsd_is_mounted "$MNT" && break; sleep 0.1; done
if ! fsd_is_mounted "$MNT"; then
	tap_fail "mount with FUSE debug" "$(tail -20 "$LOG")"
	tap_done
	exit 1
fi
tap_pass "mounted with FUSE debug (-d)"
# the daemon sets the mount's kernel readahead once INIT is answered
# (fs/main.c); in the foreground nothing waits for that, as `stratafs`
# without -f does: read once it has, not while it changes under the reads
for _ in $(seq 1 50); do
	[ "$(cat "/sys/class/bdi/$(mountpoint -d "$MNT")/read_ahead_kb")" = 512 ] && break
	sleep 0.1
done

mapfile -t files < <(find "$MNT" -type f)
tap_ok "the image has files to read (${#files[@]})" test "${#files[@]}" -ge 5
# The kernel's asynchronous readahead of the first reads may still be
# answered (and logged) after cat returned: wait until the log has been
# quiet for 0.5 s (at most 10 s), so a late answer is not taken for a
# request of the warm cat.
quiet() {
	before=$(wc -l <"$LOG")
	for _ in $(seq 1 20); do
		sleep 0.5
		now=$(wc -l <"$LOG")
		[ "$now" = "$before" ] && break
		before=$now
	done
}
# Pages of the mount's files missing from the kernel's page cache.
missing() {
	fincore -b -n -r -o RES,SIZE "${files[@]}" | awk '{ m += int(($2 + 4095) / 4096) - int($1 / 4096) } END { print m }'
}
cat "${files[@]}" >/dev/null
cat "${files[@]}" >/dev/null
quiet
# This machine's memory manager may page out page-cache pages it thinks
# cold (DAMON's pageout here: a few pages of a file went between the
# second and the third cat, and the kernel then asked for them, rightly):
# make sure every page is cached before the warm cat is counted.
for _ in 1 2 3 4 5; do
	gone=$(missing)
	[ "$gone" = 0 ] && break
	echo "# $gone page(s) left the page cache after the second cat: reading again"
	cat "${files[@]}" >/dev/null
	quiet
done
tap_is "$(missing)" 0 "every page of the ${#files[@]} files is in the page cache"
cat "${files[@]}" >"$HARNESS_DIR/third.out"
sleep 0.2
ops=$(tail -n +"$((before + 1))" "$LOG" | { grep -o 'opcode: [A-Z_]*' || true; } | sort | uniq -c | tr -s ' ' | tr '\n' ';')
tap_is "$ops" "" "a warm cat of ${#files[@]} files sends the daemon no request"
tap_ok "... and reads the same bytes" test -s "$HARNESS_DIR/third.out"

f=${files[0]}
tap_ok "open O_WRONLY, O_RDWR and O_RDONLY|O_TRUNC fail with EROFS; a dir opens and read() is EISDIR" \
	/usr/bin/python3 - "$f" "$MNT" <<'PY'
import errno, os, sys
f, d = sys.argv[1], sys.argv[2]
for flags in (os.O_WRONLY, os.O_RDWR, os.O_RDONLY | os.O_TRUNC, os.O_WRONLY | os.O_APPEND):
    try:
        os.close(os.open(f, flags))
    except OSError as e:
        assert e.errno == errno.EROFS, (flags, e)
    else:
        raise AssertionError("opened for writing: %o" % flags)
fd = os.open(d, os.O_RDONLY)
try:
    os.read(fd, 10)
except OSError as e:
    assert e.errno == errno.EISDIR, e
else:
    raise AssertionError("read() of a dir")
os.close(fd)
PY
tap_done
