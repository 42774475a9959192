#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Failure model: with the registry gone (killed) or hung (fault proxy
# delaying blob responses), a read of data not yet cached returns EIO
# within io_timeout, metadata still works and the daemon stays up; once
# the registry is back (restarted on the same storage and port, or the
# proxy passing again) the same read succeeds with the right bytes.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
fixture_push multi fs/multi:v1
umoci_unpack "$(fixture_ref multi)" "$HARNESS_DIR/ref"
WANT="$HARNESS_DIR/ref/rootfs"
TMO=4
MNT="$HARNESS_DIR/mnt"

# a cold mount streams every layer to build its index (and may keep what
# it streamed); the test wants data that is not local: mount twice
tap_ok "cold mount" fsd_mount fs/multi:v1 "$MNT"
tap_ok "unmount" fsd_umount "$MNT"
tap_ok "mount with the warm index cache (io_timeout=$TMO)" fsd_mount fs/multi:v1 "$MNT" "io_timeout=$TMO,retries=2"
pid=$(fsd_pid "$MNT")
tap_is "$(cat "$MNT/keep/a.txt")" "a v2" "a read works while the registry is up (top layer: big/ is in the base)"

registry_stop
tap_timed cat "$MNT/big/large.bin"
tap_ok "registry killed: read fails" test "$TAP_RC" -ne 0
tap_ok "... with EIO" grep -q "Input/output error" "$TAP_OUT"
tap_ok "... within io_timeout (${TAP_SECS} s <= $TMO s + 3)" tap_lt "$TAP_SECS" $((TMO + 3))
tap_ok "metadata still served" stat "$MNT/big/large.bin"
tap_ok "the daemon is still up" kill -0 "$pid"
tap_ok "still mounted" fsd_is_mounted "$MNT"

# restart on the same storage and port
/usr/bin/docker-registry serve "$(dirname "$REGISTRY_STORAGE")/config.yml" >>"$REGISTRY_LOG" 2>&1 &
REGISTRY_PID=$!
HARNESS_PIDS="$HARNESS_PIDS $!"
wait_http "$REGISTRY_URL/v2/" || harness_fail "registry did not restart on $REGISTRY"
tap_ok "registry back: the same read succeeds with the right bytes" cmp "$WANT/big/large.bin" "$MNT/big/large.bin"
tap_ok "unmount" fsd_umount "$MNT"

# a hung registry: the proxy holds blob responses far longer than io_timeout
proxy_start
tap_ok "mount through the fault proxy" env REGISTRY="$PROXY" bash -c \
	". '$(dirname "$0")/mount_lib.sh'; FSD_CACHE='$HARNESS_DIR/cache2'; mkdir -p \$FSD_CACHE; fsd_mount fs/multi:v1 '$MNT' 'io_timeout=$TMO,retries=1'"
harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"
pid=$(fsd_pid "$MNT")
proxy_mode "delay secs=60 path=/blobs/"
tap_timed cat "$MNT/big/large.bin"
tap_ok "hung registry: read fails with EIO" grep -q "Input/output error" "$TAP_OUT"
tap_ok "... within io_timeout (${TAP_SECS} s <= $TMO s + 3)" tap_lt "$TAP_SECS" $((TMO + 3))
tap_ok "metadata still served" ls -l "$MNT/big"
tap_ok "the daemon is still up" kill -0 "$pid"
proxy_mode
sleep 1 # a failed inode fails fast for FS_FAIL_MEMO_MS (the kernel's retry of the same read)
tap_ok "proxy passing again: the read succeeds" cmp "$WANT/big/large.bin" "$MNT/big/large.bin"
errors=$("$STRATA" stats "$MNT" --json | jq '.totals.errors // 0')
tap_ok "stats count the failed fetches ($errors)" test "$errors" -ge 1
tap_ok "unmount" fsd_umount "$MNT"
tap_done
