#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Private registries: TLS with -o ca_file, Basic auth with -o username= and
# -o password_file= (the password never shows in the output or argv);
# bad credentials and an untrusted certificate fail before mounting.
# Image indexes: -o platform picks the image.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start basic
fixture_push single fs/single:v1
fixture_push index fs/index:v1
MNT="$HARNESS_DIR/mnt"
printf '%s\n' "$REGISTRY_PASS" >"$HARNESS_DIR/pw"
chmod 600 "$HARNESS_DIR/pw"
printf 'wrong-password\n' >"$HARNESS_DIR/badpw"
FSD_BASE_OPTS="ca_file=$REGISTRY_CA,username=$REGISTRY_USER,password_file=$HARNESS_DIR/pw"

out=$(fsd_mount fs/single:v1 "$MNT" "log=debug" 2>&1) && tap_pass "mount over TLS with Basic auth" ||
	tap_fail "mount over TLS with Basic auth" "$out"
tap_is "$(cat "$MNT/etc/hostname" 2>&1)" "stratafs-fixture" "read a file (ranged GET with credentials)"
case "$out" in *"$REGISTRY_PASS"*) tap_fail "the password is not in the debug log" ;; *) tap_pass "the password is not in the debug log" ;; esac
pid=$(fsd_pid "$MNT")
if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$REGISTRY_PASS"; then
	tap_fail "the password is not in argv"
else
	tap_pass "the password is not in argv"
fi
tap_ok "unmount" fsd_umount "$MNT"

FSD_BASE_OPTS="ca_file=$REGISTRY_CA,username=$REGISTRY_USER,password_file=$HARNESS_DIR/badpw"
tap_not "a wrong password fails" fsd_mount fs/single:v1 "$MNT"
tap_not "... nothing mounted" fsd_is_mounted "$MNT"
FSD_BASE_OPTS="ca_file=$REGISTRY_CA"
tap_not "no credentials fails" fsd_mount fs/single:v1 "$MNT"
FSD_BASE_OPTS="username=$REGISTRY_USER,password_file=$HARNESS_DIR/pw"
tap_not "an untrusted certificate fails" fsd_mount fs/single:v1 "$MNT"
tap_not "... nothing mounted" fsd_is_mounted "$MNT"

FSD_BASE_OPTS="ca_file=$REGISTRY_CA,username=$REGISTRY_USER,password_file=$HARNESS_DIR/pw"
tap_ok "mount an index with platform=linux/arm64/v8" fsd_mount fs/index:v1 "$MNT" "platform=linux/arm64/v8"
tap_is "$(cat "$MNT/etc/arch" 2>&1)" "arm64" "the arm64 image"
tap_ok "unmount" fsd_umount "$MNT"
tap_ok "mount an index with platform=linux/amd64" fsd_mount fs/index:v1 "$MNT" "platform=linux/amd64"
tap_is "$(cat "$MNT/etc/arch" 2>&1)" "amd64" "the amd64 image"
tap_ok "unmount" fsd_umount "$MNT"
tap_not "platform=linux/s390x is not in the index" fsd_mount fs/index:v1 "$MNT" "platform=linux/s390x"
tap_not "... nothing mounted" fsd_is_mounted "$MNT"
tap_done
