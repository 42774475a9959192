#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Mount and unmount the ways FUSE filesystems are used: background daemon,
# -f, `mount -t fuse.stratafs` (with the rw,dev,suid generic options mount
# adds, which must not win over ro,nosuid,nodev), an fstab line (mount -T),
# and unmounting by fusermount3 -u, umount, SIGTERM and SIGINT.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
fixture_push single fs/single:v1
MNT="$HARNESS_DIR/mnt"
mkdir -p "$MNT"
harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"
O="insecure,cache=$FSD_CACHE"

help=$("$STRATAFS" --help 2>&1)
missing=""
for o in cache= cache_max= platform= insecure ca_file= config= username= password_file= layers \
	allow_other prefetch= io_timeout= retries= push_index log=; do
	case "$help" in *"-o $o"*) ;; *) missing="$missing $o" ;; esac
done
tap_is "$missing" "" "--help documents every option"
tap_ok "--version" sh -c "'$STRATAFS' --version | grep -q '^stratafs '"
tap_not "no arguments is a usage error" "$STRATAFS"
out=$("$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -o "$O,bogus_option" 2>&1) &&
	tap_fail "an unknown option is refused" || tap_pass "an unknown option is refused"
case "$out" in *"unknown option"*bogus_option*) tap_pass "... naming it, before any network work" ;;
*) tap_fail "... naming it, before any network work" "$out" ;; esac
tap_not "... and nothing is mounted" fsd_is_mounted "$MNT"

wait_gone() { # PID: the daemon exited and the mount is gone
	local i
	for i in $(seq 1 100); do
		if ! kill -0 "$1" 2>/dev/null && ! fsd_is_mounted "$MNT"; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# SIGTERM to the background daemon
tap_ok "background mount" "$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -o "$O"
pid=$(fsd_pid "$MNT")
tap_ok "the daemon runs detached (pid ${pid:-none})" test -n "$pid"
tap_is "$(cat "$MNT/etc/hostname")" "stratafs-fixture" "read a file"
kill -TERM "$pid"
tap_ok "SIGTERM unmounts and the daemon exits" wait_gone "$pid"

# umount(8)
"$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -o "$O"
pid=$(fsd_pid "$MNT")
tap_ok "umount unmounts" umount "$MNT"
tap_ok "... and the daemon exits" wait_gone "$pid"

# -f, SIGTERM (not SIGINT: a background job of a script ignores it, and
# libfuse keeps an ignored signal ignored)
"$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -f -o "$O,log=warn" &
pid=$!
for i in $(seq 1 100); do fsd_is_mounted "$MNT" && break; sleep 0.05; done
tap_ok "-f mounts in the foreground" fsd_is_mounted "$MNT"
tap_is "$(cat "$MNT/etc/hostname")" "stratafs-fixture" "-f: read a file"
kill -TERM "$pid"
tap_ok "-f: SIGTERM unmounts and the daemon exits" wait_gone "$pid"
kill -KILL "$pid" 2>/dev/null || true
rc=0
wait "$pid" || rc=$?
tap_is "$rc" 0 "-f: exit status 0 after a signal"

# mount(8) runs helpers with no PATH, so `mount -t fuse.stratafs` finds an
# installed stratafs only. Exercise the same helper, /sbin/mount.fuse3, both
# ways: as mount(8) calls it for type fuse.stratafs (argv "REF DIR -o opts
# -t fuse.stratafs"), and through mount(8) itself with the "PROGRAM#REF"
# source of type fuse, with the generic options mount(8) passes.
PATH="$(dirname "$STRATAFS"):$PATH" /sbin/mount.fuse3 "$REGISTRY/fs/single:v1" "$MNT" \
	-o "rw,dev,suid,$O" -t fuse.stratafs
tap_ok "mount.fuse3 -t fuse.stratafs (what mount -t fuse.stratafs runs)" fsd_is_mounted "$MNT"
opts=$(awk -v m="$(readlink -f "$MNT")" '$2 == m { print $4 }' /proc/mounts)
tap_diag "options: $opts"
tap_ok "rw,dev,suid did not win over ro,nosuid,nodev" sh -c "echo ',$opts,' | grep ',ro,' | grep ',nosuid,' | grep -q ',nodev,'"
tap_is "$(cat "$MNT/etc/hostname")" "stratafs-fixture" "read a file"
tap_ok "fusermount3 -u" fsd_umount "$MNT"

mount -t fuse -o "rw,dev,suid,$O" "$STRATAFS#$REGISTRY/fs/single:v1" "$MNT"
tap_ok "mount -t fuse PROGRAM#REF" fsd_is_mounted "$MNT"
opts=$(awk -v m="$(readlink -f "$MNT")" '$2 == m { print $4 }' /proc/mounts)
tap_ok "... still ro,nosuid,nodev" sh -c "echo ',$opts,' | grep ',ro,' | grep ',nosuid,' | grep -q ',nodev,'"
tap_ok "umount" umount "$MNT"

# an fstab line (noauto,nofail,_netdev,x-* are tolerated)
printf '%s %s fuse %s,noauto,nofail,_netdev,x-systemd.automount 0 0\n' \
	"$STRATAFS#$REGISTRY/fs/single:v1" "$MNT" "$O" >"$HARNESS_DIR/fstab"
mount -T "$HARNESS_DIR/fstab" "$MNT"
tap_ok "mount from an fstab line" fsd_is_mounted "$MNT"
tap_is "$(head -1 "$MNT/bin/hello")" "#!/bin/sh" "read a file"
tap_ok "umount" umount "$MNT"

# relative paths (mountpoint, cache dir) still work once the daemon is in "/"
(cd "$HARNESS_DIR" && "$STRATAFS" "$REGISTRY/fs/single:v1" mnt -o insecure,cache=relcache)
tap_ok "relative mountpoint" fsd_is_mounted "$MNT"
tap_ok "reads work with a relative cache dir" cmp <(cat "$MNT/data/blob.bin") "$MNT/data/blob.bin"
tap_ok "... and the cache is where it was named" test -n "$(find "$HARNESS_DIR/relcache" -type f | head -1)"
fsd_umount "$MNT"

# allow_other only when asked
"$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -o "$O"
tap_not "no allow_other by default" sh -c "grep ' $(readlink -f "$MNT") ' /proc/mounts | grep -q allow_other"
fsd_umount "$MNT"
"$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -o "$O,allow_other"
tap_ok "-o allow_other" sh -c "grep ' $(readlink -f "$MNT") ' /proc/mounts | grep -q allow_other"
fsd_umount "$MNT"
tap_not "an invalid log level is refused" "$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -o "$O,log=loud"
tap_not "an invalid cache_max is refused" "$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -o "$O,cache_max=12Q"
# counts are checked whole: "-1" is not UINT_MAX, "10s" not 10, 4294968 s not 704 ms
for bad in io_timeout=-1 io_timeout=10s io_timeout=4294968 io_timeout=0 retries=-1 retries=101; do
	rc=0
	"$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -o "$O,$bad" 2>"$HARNESS_DIR/bad.err" || rc=$?
	tap_ok "-o $bad is a usage error (exit $rc) naming the option" \
		sh -c "[ $rc = 2 ] && grep -q 'invalid ${bad%%=*}' '$HARNESS_DIR/bad.err'"
done
tap_not "... nothing mounted" fsd_is_mounted "$MNT"

# push_index with every index already cached: mounts, says there is nothing to push
# (the push itself: tests/integration/push/index_push.sh)
out=$("$STRATAFS" "$REGISTRY/fs/single:v1" "$MNT" -o "$O,push_index" 2>&1)
tap_ok "-o push_index mounts" fsd_is_mounted "$MNT"
case "$out" in *push_index*"nothing to push"*) tap_pass "-o push_index with cached indexes has nothing to push" ;;
*) tap_fail "-o push_index with cached indexes has nothing to push" "$out" ;; esac
tap_ok "unmount" fsd_umount "$MNT"
tap_not "nothing left mounted" fsd_is_mounted "$MNT"
tap_done
