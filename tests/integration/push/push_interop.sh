#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata push against the real registry (plain), checked by other tools:
# skopeo copies the image, umoci unpacks it to the same tree as DIR; a
# stratafs mount shows the same tree, reading the pushed index (no
# whole-layer GET, stats say "registry"); pushing twice gives the same
# digests; zstd; --base merges; an unreadable file fails the push with
# nothing pushed.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
. "$SRCDIR/tests/integration/push/push_lib.sh"
fsd_init
registry_start plain

D="$HARNESS_DIR/tree"
make_tree "$D"
SPAN=(--span-size 1M) # the same as 1048576

# ---- push, determinism ----
tap_ok "push DIR" strata_run push "$D" "$REGISTRY/x:1" --json "${SPAN[@]}"
OUT1=$(strata_run push "$D" "$REGISTRY/x:1" --json "${SPAN[@]}" 2>/dev/null)
M1=$(jq -r .manifest <<<"$OUT1")
L1=$(jq -r .layer <<<"$OUT1")
OUT2=$(strata_run push "$D" "$REGISTRY/x:2" --json "${SPAN[@]}" 2>/dev/null)
tap_is "$(jq -r .manifest <<<"$OUT2")" "$M1" "pushing the same DIR again gives the same manifest digest"
tap_is "$(jq -r .layer <<<"$OUT2")" "$L1" "... and the same layer digest"
tap_is "$(jq -r .layer_existed <<<"$OUT2")" "true" "... and the layer is not uploaded again (HEAD)"
tap_is "$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/x:1" | sha256sum | cut -c1-64)" \
	"${M1#sha256:}" "the tag names the printed manifest digest"
tap_ok "more than one span (member per span)" test "$(jq -r .spans <<<"$OUT1")" -gt 3
tap_is "$(strata_run push "$D" "$REGISTRY/x:bytes" --json --span-size 1048576 | jq -r .manifest)" "$M1" \
	"--span-size 1M and 1048576 give the same image"
# the default span: 256 KiB for a tree of mostly small files, else 1 MiB
mkdir -p "$HARNESS_DIR/sp-small" "$HARNESS_DIR/sp-big"
for i in $(seq 1 200); do _fx_rand "sp-$i" 15000 >"$HARNESS_DIR/sp-small/f$i"; done
_fx_rand sp-big 3000000 >"$HARNESS_DIR/sp-big/big.bin"
n=$(strata_run push "$HARNESS_DIR/sp-small" "$REGISTRY/x:sp-small" --json | jq -r .spans)
tap_ok "200 files of 15 KB (3 MB of tar): 256 KiB spans by default ($n spans)" test "$n" -ge 11 -a "$n" -le 14
n=$(strata_run push "$HARNESS_DIR/sp-big" "$REGISTRY/x:sp-big" --json | jq -r .spans)
tap_ok "one 3 MB file: 1 MiB spans by default ($n spans)" test "$n" -ge 3 -a "$n" -le 4
RC=0
strata_run push "$D" "$REGISTRY/x:bad" --span-size 3 >/dev/null || RC=$?
tap_is "$RC" 2 "--span-size below 64K: exit 2"
tap_ok "... saying what is allowed" grep -q "bad span size '3': want 64K to 64M" "$STRATA_ERR"

# ---- skopeo + umoci ----
tap_ok "skopeo copies the image" skopeo copy -q --src-tls-verify=false \
	"docker://$REGISTRY/x:1" "oci:$HARNESS_DIR/L:1"
tap_ok "umoci unpacks it" umoci_unpack "$HARNESS_DIR/L:1" "$HARNESS_DIR/bundle"
tree_dump "$D" >"$HARNESS_DIR/want.txt"
tree_dump "$HARNESS_DIR/bundle/rootfs" >"$HARNESS_DIR/umoci.txt"
if diff "$HARNESS_DIR/want.txt" "$HARNESS_DIR/umoci.txt" >"$HARNESS_DIR/umoci.diff"; then
	tap_pass "umoci's rootfs equals DIR (names, types, modes, owners, mtimes, links, xattrs, content)"
else
	tap_fail "umoci's rootfs equals DIR" "$(cat "$HARNESS_DIR/umoci.diff")"
fi
tap_ok "the blob is gzip that gzip -t accepts" sh -c \
	"gzip -t < '$HARNESS_DIR/L/blobs/sha256/${L1#sha256:}'"

# ---- stratafs mount, lazily through the pushed index ----
MNT="$HARNESS_DIR/mnt"
registry_log_mark
tap_ok "mount x:1" fsd_mount x:1 "$MNT"
find "$MNT" -exec stat -c '%n %s' {} + >/dev/null
tap_is "$(registry_blob_gets "$L1")" 0 "mount + find + stat: no GET of the layer blob"
"$STRATA" stats "$MNT" --json >"$HARNESS_DIR/stats.json"
tap_is "$(jq -r '.layers[0].index_source' "$HARNESS_DIR/stats.json")" registry \
	"stats: index source is the registry"
tree_dump "$MNT" >"$HARNESS_DIR/mount.txt"
if diff "$HARNESS_DIR/want.txt" "$HARNESS_DIR/mount.txt" >"$HARNESS_DIR/mount.diff"; then
	tap_pass "the mount equals DIR"
else
	tap_fail "the mount equals DIR" "$(cat "$HARNESS_DIR/mount.diff")"
fi
served=$(registry_bytes_served "$L1")
size=$(jq -r .layer_size <<<"$OUT1")
tap_ok "reading every file fetched spans, never more than the blob ($served of $size)" \
	test "$served" -le "$size"
tap_ok "unmount" fsd_umount "$MNT"

# ---- zstd ----
OUTZ=$(strata_run push "$D" "$REGISTRY/x:z" --compression zstd --json "${SPAN[@]}" 2>/dev/null)
tap_is "$(jq -r .compression <<<"$OUTZ")" zstd "push --compression zstd"
tap_ok "skopeo copies the zstd image" skopeo copy -q --src-tls-verify=false \
	"docker://$REGISTRY/x:z" "oci:$HARNESS_DIR/L:z"
LZ=$(jq -r .layer <<<"$OUTZ")
tap_ok "zstd -t accepts the layer blob" sh -c "zstd -q -t < '$HARNESS_DIR/L/blobs/sha256/${LZ#sha256:}'"
tap_ok "strata ls lists the zstd layer" sh -c \
	"'$STRATA' ls -R '$HARNESS_DIR/L/blobs/sha256/${LZ#sha256:}' | grep -q 'dir/file'"
tap_ok "mount x:z" fsd_mount x:z "$MNT"
tree_dump "$MNT" >"$HARNESS_DIR/mountz.txt"
tap_ok "the zstd mount equals DIR" diff "$HARNESS_DIR/want.txt" "$HARNESS_DIR/mountz.txt"
tap_is "$("$STRATA" stats "$MNT" --json | jq -r '.layers[0].index_source')" registry \
	"zstd: index from the registry"
tap_ok "unmount" fsd_umount "$MNT"

# ---- --base: a second layer on top, in another repository (cross-mount) ----
D2="$HARNESS_DIR/tree2"
mkdir -p "$D2/dir" "$D2/added"
echo "changed" >"$D2/dir/file"
echo "new" >"$D2/added/new.txt"
touch -d @1700000000 "$D2/dir/file" "$D2/added/new.txt" "$D2/added" "$D2/dir" "$D2"
registry_log_mark
OUTB=$(strata_run push "$D2" "$REGISTRY/y:1" --base "$REGISTRY/x:1" --json 2>/dev/null)
tap_ok "push --base x:1 to y:1" test -n "$(jq -r .manifest <<<"$OUTB")"
tap_is "$(registry_requests POST "^/v2/y/blobs/uploads/\\?mount=sha256%3A${L1#sha256:}&from=x$")" 1 \
	"the base layer is cross-mounted"
tap_is "$(registry_blob_gets "$L1")" 0 "... never downloaded"
tap_is "$(skopeo inspect --tls-verify=false "docker://$REGISTRY/y:1" | jq '.Layers | length')" 2 \
	"y:1 has two layers"
FSD_CACHE="$HARNESS_DIR/cache-y" && mkdir -p "$FSD_CACHE"
tap_ok "mount y:1" fsd_mount y:1 "$MNT"
tap_is "$(cat "$MNT/dir/file")" changed "the upper layer wins"
tap_is "$(cat "$MNT/added/new.txt")" new "the upper layer's new file"
tap_ok "the base's files are there" cmp "$D/big.bin" "$MNT/big.bin"
tap_is "$("$STRATA" stats "$MNT" --json | jq -r '[.layers[].index_source] | join(",")')" \
	"registry,registry" "both layers' indexes come from the registry"
tap_ok "unmount" fsd_umount "$MNT"

# ---- an unreadable file: nothing is pushed ----
# A file that fails with EIO: a stratafs mount of an image whose layer blob is corrupted
# in the registry's storage (the span's sha256 check fails; stat still works).
blob="$REGISTRY_STORAGE/docker/registry/v2/blobs/sha256/${L1:7:2}/${L1#sha256:}/data"
printf '\xff\xff\xff\xff' | dd of="$blob" bs=1 seek=2000000 conv=notrunc status=none
FSD_CACHE="$HARNESS_DIR/cache2" && mkdir -p "$FSD_CACHE"
tap_ok "mount the corrupted image" fsd_mount x:2 "$MNT"
tap_not "reading big.bin there fails" cat "$MNT/big.bin"
registry_log_mark
rc=0
strata_run push "$MNT" "$REGISTRY/bad:1" 2>/dev/null || rc=$?
tap_is "$rc" 1 "push of a tree with an unreadable file exits 1"
tap_ok "... with a clear message" grep -q "cannot read .*big.bin" "$STRATA_ERR"
tap_is "$(registry_requests PUT)$(registry_requests POST)$(registry_requests PATCH)" 000 \
	"... and nothing was uploaded"
tap_ok "unmount" fsd_umount "$MNT"

# ---- a file that grows while it is read: an error, nothing pushed ----
D3="$HARNESS_DIR/tree3"
mkdir -p "$D3"
head -c 20000000 /dev/urandom >"$D3/growing"
(while :; do echo x >>"$D3/growing"; sleep 0.01; done) &
GROWER=$!
harness_on_exit "kill $GROWER 2>/dev/null"
registry_log_mark
rc=0
strata_run push "$D3" "$REGISTRY/grow:1" 2>/dev/null || rc=$?
kill "$GROWER"
tap_is "$rc" 1 "a file changing while read: exit 1"
tap_ok "... saying so" grep -q "growing.*changed while being read" "$STRATA_ERR"
tap_is "$(registry_requests PUT)$(registry_requests POST)" 00 "... and nothing was uploaded"

D4="$HARNESS_DIR/tree4"
mkdir -p "$D4"
echo kept >"$D4/file"

# ---- --platform and SOURCE_DATE_EPOCH go in the config ----
SOURCE_DATE_EPOCH=1700000000 strata_run push "$D4" "$REGISTRY/plat:1" --platform linux/arm64/v8 \
	>/dev/null 2>&1 || true
cfg=$(skopeo inspect --config --tls-verify=false "docker://$REGISTRY/plat:1" 2>/dev/null || true)
tap_is "$(jq -r '[.os, .architecture, .variant] | join("/")' <<<"$cfg")" linux/arm64/v8 \
	"--platform linux/arm64/v8 is the config's platform"
tap_is "$(jq -r '.created' <<<"$cfg")" 2023-11-14T22:13:20Z "SOURCE_DATE_EPOCH sets created"
tap_is "$(jq -r '.rootfs.diff_ids | length' <<<"$cfg")" 1 "one diff_id"

# ---- a socket is skipped with a warning ----
python3 -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$D4/sock"
tap_ok "a tree with a socket pushes" strata_run push "$D4" "$REGISTRY/sock:1"
tap_ok "... with a warning" grep -q "skipping socket .*sock" "$STRATA_ERR"
tap_ok "skopeo copies it" skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/sock:1" \
	"oci:$HARNESS_DIR/L:sock"
tap_ok "umoci unpacks it" umoci_unpack "$HARNESS_DIR/L:sock" "$HARNESS_DIR/bundle-sock"
tap_ok "the file is there, the socket is not" sh -c \
	"test -f '$HARNESS_DIR/bundle-sock/rootfs/file' && ! test -e '$HARNESS_DIR/bundle-sock/rootfs/sock'"

# ---- xattrs: 70 on one file are all kept; a name holding '=' is refused ----
XA="$HARNESS_DIR/xa"
mkdir -p "$XA/many" "$XA/eq"
echo many >"$XA/many/f"
for i in $(seq 1 70); do setfattr -n "user.k$(printf %03d "$i")" -v "v$i" "$XA/many/f"; done
tap_ok "push a file with 70 xattrs" strata_run push "$XA/many" "$REGISTRY/xa:1"
tap_ok "mount it" fsd_mount xa:1 "$XA/mnt"
tap_is "$(getfattr -d -m '^user\.' "$XA/mnt/f" 2>/dev/null | grep -c '^user\.')" 70 "... all 70 xattrs are there"
tap_ok "... with their values" bash -c \
	"diff <(cd '$XA/many' && getfattr -d -m - f) <(cd '$XA/mnt' && getfattr -d -m - f)"
tap_ok "unmount" fsd_umount "$XA/mnt"
echo y >"$XA/eq/f"
setfattr -n 'user.a=b' -v val "$XA/eq/f"
rc=0
strata_run push "$XA/eq" "$REGISTRY/xa:eq" >/dev/null || rc=$?
tap_is "$rc" 1 "an xattr name holding '=' fails the push (a pax record reads back as user.a = b=val)"
tap_ok "... naming the file and the xattr" grep -q "eq/f': its xattr name 'user.a=b' holds '='" "$STRATA_ERR"
tap_not "... nothing is tagged" skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/xa:eq"
tap_done
