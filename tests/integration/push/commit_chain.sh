#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata commit: real kernel overlayfs over a real stratafs mount, the upper
# dir committed on top of the mounted image, read back three ways.
#
#   v1  strata push of a base tree (nested dirs, a 6 MiB file over several
#       spans, symlink, hardlinks, user.* xattrs, 0700/0644/setgid modes, an
#       owner, old mtimes)
#   v2  overlay on a mount of v1, every kind of change through the overlay
#       (whiteouts, overlay-made and hand-made opaque dirs, file<->dir, ...),
#       `strata commit U cc/cache:v2 --base MOUNTPOINT`: 2 layers, v1's layer
#       first and not uploaded again; a stratafs mount of v2 and umoci's
#       unpack of it equal the overlay's tree
#   v3  overlay (userxattr: user.overlay.opaque) on a mount of v2,
#       --max-layers 2: squashed to 1 layer, no .wh.* anywhere, mount and
#       umoci equal the overlay's tree
#   v4  overlay on a mount of v2, the tag v2 moved elsewhere before the
#       commit, --base MOUNTPOINT --max-layers 3: appended (3 layers, v2's
#       two first: the base is the manifest the mount serves, not the tag);
#       the same upper dir again as zstd (text output) and squashed onto the
#       mount (--max-layers 1): both mounts equal the overlay's tree
#   bad an upper dir with a redirect (rename with redirect_dir=on) or a
#       metacopy (chown with metacopy=on) is refused, the tag untouched;
#       a missing UPPERDIR fails; no arguments is a usage error; a
#       name that is an OCI whiteout marker (.wh.*) is refused by commit
#       and push
#
# One lister (commit_tree.py) for every tree: path, type, mode, owner, mtime
# (s), size, sha256, symlink target, user.* xattrs, hardlink group.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
fsd_init
registry_start plain

LIST=("/usr/bin/python3" "$SRCDIR/tests/integration/push/commit_tree.py")
SPAN=(--span-size 1048576)
H=$HARNESS_DIR
R=$REGISTRY/cc/cache

# ---- helpers ----

# manifest_digest REF (REF without the registry): sha256 of the stored manifest bytes
manifest_digest() {
	local d
	d=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/$1" | sha256sum) || return 1
	echo "sha256:${d%% *}"
}
# manifest_layers REF: the layer digests, one a line
manifest_layers() {
	skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/$1" | jq -r '.layers[].digest'
}

# ovl_mount LOWER NAME [OPTS]: overlay $H/NAME/merged over LOWER, upper $H/NAME/upper
# (created beforehand, so a test can seed it), work $H/NAME/work; unmounted at exit.
ovl_mount() {
	local lower=$1 n=$H/$2
	mkdir -p "$n/upper" "$n/work" "$n/merged"
	harness_on_exit "umount -l '$n/merged' 2>/dev/null"
	mount -t overlay overlay \
		-o "lowerdir=$lower,upperdir=$n/upper,workdir=$n/work${3:+,$3}" "$n/merged"
}
ovl_umount() { umount "$H/$1/merged"; }

# same_tree WANT_FILE DIR DESC: the listing of DIR equals WANT_FILE
same_tree() {
	local got="$H/listing.$RANDOM"
	"${LIST[@]}" "$2" >"$got" 2>&1 || true
	if diff -u "$1" "$got" >"$got.diff"; then
		tap_pass "$3"
	else
		tap_fail "$3" "$(head -c 6000 "$got.diff")"
	fi
}

# umoci_tree TAG DIR: skopeo copy cc/cache:TAG to an OCI layout, umoci unpack to DIR
umoci_tree() {
	skopeo copy -q --src-tls-verify=false "docker://$R:$1" "oci:$H/oci:$1" || return 1
	umoci unpack --image "$H/oci:$1" "$2" >/dev/null
}

# is_whiteout PATH: a 0/0 character device
is_whiteout() { [ "$(stat -c '%F %t:%T' "$1")" = "character special file 0:0" ]; }

# uploads_of DIGEST: requests since the mark that upload that blob (PUT/POST
# carrying ?digest= or ?mount=, PATCH to an upload session naming it)
uploads_of() {
	registry_responses | jq -c --arg h "${1#sha256:}" \
		'select((.["http.request.method"] | test("^(PUT|POST|PATCH)$"))
		        and (.["http.request.uri"] | test("sha256(:|%3A)" + $h)))' | wc -l
}

# commit_json OUTFILE ARGS...: strata commit ARGS --json, stdout to OUTFILE; returns its exit status
commit_json() {
	local out=$1
	shift
	strata_run commit "$@" --json >"$out"
}

# the upper dirs live in $HARNESS_DIR: overlayfs needs trusted.* xattrs there (root)
touch "$H/xattr-probe"
tap_ok "the upper dirs' fs ($(stat -f -c %T "$H")) takes trusted.* xattrs" \
	setfattr -n trusted.probe -v 1 "$H/xattr-probe"

# ---- v1: the base ----
B=$H/base
mkdir -p "$B/etc" "$B/secret" "$B/shared" "$B/big" "$B/data" "$B/olddir/sub/deeper" \
	"$B/recreated/sub" "$B/handop/sub" "$B/tofile/inner" "$B/keep/a/b"
printf 'conf=1\n' >"$B/etc/conf"
printf 'to be deleted\n' >"$B/etc/gone.txt"
printf '127.0.0.1 localhost\n' >"$B/etc/hosts"
printf 'key\n' >"$B/secret/key"
chmod 0700 "$B/secret" && chmod 0600 "$B/secret/key"
printf 'shared\n' >"$B/shared/a"
chmod 2775 "$B/shared"
head -c 6291456 /dev/urandom >"$B/big/blob.bin"
head -c 200000 /dev/urandom >"$B/med.bin"
: >"$B/empty.txt"
printf 'line 1\n' >"$B/mod.txt"
printf 'h\n' >"$B/data/h1" && ln "$B/data/h1" "$B/data/h2"
printf 'x\n' >"$B/olddir/x" && printf 'deep\n' >"$B/olddir/sub/deeper/f"
printf 'old1\n' >"$B/recreated/old1" && printf 'old2\n' >"$B/recreated/sub/old2"
printf 'hidden\n' >"$B/handop/old" && printf 'hidden2\n' >"$B/handop/sub/old"
printf 'inner\n' >"$B/tofile/inner/f"
printf 'a file\n' >"$B/todir"
printf 'kept\n' >"$B/keep/a/b/kept.txt"
printf 'owned\n' >"$B/keep/owned" && chown 1234:5678 "$B/keep/owned" && chmod 0640 "$B/keep/owned"
ln -s etc/conf "$B/link"
setfattr -n user.comment -v base "$B/etc/conf"
setfattr -n user.dir -v d "$B/keep"
chmod 0644 "$B/etc/conf" "$B/mod.txt"
find "$B" -depth -exec touch -h -d @1600000000 {} +
touch -h -d @1500000000 "$B/etc/hosts"

OUT1=$(strata_run push "$B" "$R:v1" --json "${SPAN[@]}" 2>/dev/null) || true
L1=$(jq -r .layer <<<"$OUT1" 2>/dev/null || true)
tap_ok "push the base to cc/cache:v1" test -n "$L1"
tap_ok "the base layer has several spans" test "$(jq -r .spans <<<"$OUT1")" -gt 3
"${LIST[@]}" "$B" >"$H/want-base.txt"
tap_ok "the base listing has the 6 MiB file and the hardlink pair" sh -c \
	"grep -q '^big/blob.bin|f|0644|0:0|t=1600000000|size=6291456|' '$H/want-base.txt' &&
	 grep -q '^data/h2|.*|hl=data/h1$' '$H/want-base.txt'"

# ---- v2: overlay on a mount of v1, every kind of change ----
L=$H/lower1
tap_ok "mount cc/cache:v1" fsd_mount cc/cache:v1 "$L"
same_tree "$H/want-base.txt" "$L" "the mount of v1 equals the base tree"
O=r1
mkdir -p "$H/$O/upper/handop"
# a hand-made opaque dir (the upper dir seeded before the mount): lower handop/* hidden
setfattr -n trusted.overlay.opaque -v y "$H/$O/upper/handop"
printf 'only\n' >"$H/$O/upper/handop/only.txt"
tap_ok "overlay on the mount of v1" ovl_mount "$L" "$O" redirect_dir=off,metacopy=off,index=off
M=$H/$O/merged
change1() {
	mkdir -p "$M/new/dir" || return 1
	printf 'added\n' >"$M/new/dir/a.txt" || return 1
	head -c 300000 /dev/urandom >"$M/new/dir/b.bin" || return 1
	printf 'top\n' >"$M/top.txt" || return 1
	touch -d @1400000000 "$M/new/dir/a.txt" || return 1
	printf 'line 2\n' >>"$M/mod.txt" || return 1                     # modified content
	chmod 0600 "$M/etc/conf" || return 1                             # chmod of a lower file
	rm "$M/etc/gone.txt" || return 1                                 # a whiteout
	rm -r "$M/olddir" || return 1                                    # a whole dir: one whiteout
	rm -r "$M/recreated" && mkdir "$M/recreated" || return 1         # overlay makes it opaque
	printf 'fresh\n' >"$M/recreated/fresh" || return 1
	rm "$M/todir" && mkdir "$M/todir" || return 1                    # file -> dir
	printf 'inside\n' >"$M/todir/inside" || return 1
	rm -r "$M/tofile" && printf 'now a file\n' >"$M/tofile" || return 1 # dir -> file
	ln -s ../etc/conf "$M/new/link-to-conf" || return 1
	printf 'pair\n' >"$M/new/h1" && ln "$M/new/h1" "$M/new/h2" || return 1
	setfattr -n user.added -v v1 "$M/new/dir/a.txt" || return 1
	setfattr -n user.lower -v yes "$M/med.bin" || return 1           # xattr on a lower file
	chmod 0750 "$M/keep/a" || return 1                               # chmod of a lower dir
}
tap_ok "changes through the overlay" change1
"${LIST[@]}" "$M" >"$H/want-v2.txt"
U=$H/$O/upper
tap_ok "the upper dir has 0/0 whiteouts (a file, a whole dir)" sh -c \
	"$(declare -f is_whiteout); is_whiteout '$U/etc/gone.txt' && is_whiteout '$U/olddir'"
tap_is "$(getfattr --only-values -n trusted.overlay.opaque "$U/recreated" 2>/dev/null)" y \
	"the upper dir has an opaque dir made by overlayfs (rm -r + mkdir)"
tap_is "$(getfattr --only-values -n trusted.overlay.opaque "$U/todir" 2>/dev/null)" y \
	"... and one where a file was replaced by a dir"
tap_ok "the overlay hides the lower content of the hand-made opaque dir" sh -c \
	"test -f '$M/handop/only.txt' && ! test -e '$M/handop/old' && ! test -e '$M/handop/sub'"
tap_ok "the overlay shows the lower files it did not touch" cmp "$B/big/blob.bin" "$M/big/blob.bin"
tap_ok "the expected tree has no overlay xattrs" sh -c "! grep -q 'overlay' '$H/want-v2.txt'"
tap_ok "unmount the overlay" ovl_umount "$O"

"${LIST[@]}" "$U" >"$H/upper-before.txt"
registry_log_mark
rc=0
commit_json "$H/c2.json" "$U" "$R:v2" --base "$L" "${SPAN[@]}" || rc=$?
tap_is "$rc" 0 "strata commit U cc/cache:v2 --base MOUNTPOINT exits 0"
C2=$(cat "$H/c2.json")
M2=$(manifest_digest cc/cache:v2 || true)
tap_is "$(jq -r .manifest <<<"$C2")" "$M2" "the JSON's manifest is what the tag names"
same_tree "$H/upper-before.txt" "$U" "the commit leaves the upper dir as it was"
tap_is "$(jq -r .reference <<<"$C2")" "$R:v2" "the JSON's reference"
tap_is "$(jq -c '[("reference", "manifest", "config", "layer", "diff_id", "compression",
	"layer_size", "tar_size", "index_artifact", "spans", "layer_existed", "layers", "squashed")
	as $k | select(has($k) | not) | $k]' <<<"$C2" 2>/dev/null)" "[]" \
	"the JSON has every key of push's plus layers and squashed"
tap_is "$(jq -c '[.layers, .squashed]' <<<"$C2")" "[2,false]" "JSON: 2 layers, not squashed"
mapfile -t LAY2 < <(manifest_layers cc/cache:v2 || true)
tap_is "${#LAY2[@]}" 2 "the v2 manifest has 2 layers"
tap_is "${LAY2[0]:-}" "$L1" "... the first is v1's layer"
tap_is "${LAY2[1]:-}" "$(jq -r .layer <<<"$C2")" "... the second is the JSON's layer"
tap_is "$(uploads_of "$L1")" 0 "v1's layer blob is not uploaded again (no POST/PUT/PATCH naming it)"
tap_ok "(the new layer was uploaded: the log check can see uploads)" \
	test "$(uploads_of "${LAY2[1]:-none}")" -ge 1
tap_is "$(jq -r ".rootfs.diff_ids | length" < <(skopeo inspect --config --raw --tls-verify=false \
	"docker://$R:v2" 2>/dev/null || echo '{}'))" 2 "the v2 config has 2 diff_ids"

# the committed layer itself, read with GNU tar: OCI whiteouts, no overlay xattrs
skopeo copy -q --src-tls-verify=false "docker://$R:v2" "oci:$H/oci:v2" 2>/dev/null || true
BLOB2=$H/oci/blobs/sha256/${LAY2[1]:-none}; BLOB2=${BLOB2/sha256:/}
tar -tzf "$BLOB2" 2>"$H/tar2.err" | sed 's|^\./||' | sort >"$H/tar2.txt" || true
tap_ok "GNU tar lists the new layer" test -s "$H/tar2.txt"
tap_ok "... with .wh. entries for the deleted file and dir" sh -c \
	"grep -qx 'etc/.wh.gone.txt' '$H/tar2.txt' && grep -qx '.wh.olddir' '$H/tar2.txt'"
tap_ok "... opaque markers for recreated/, todir/ and the hand-made handop/" sh -c \
	"grep -qx 'recreated/.wh..wh..opq' '$H/tar2.txt' && grep -qx 'todir/.wh..wh..opq' '$H/tar2.txt' &&
	 grep -qx 'handop/.wh..wh..opq' '$H/tar2.txt'"
tap_ok "... the changed paths and not the untouched lower files" sh -c \
	"grep -qx 'new/dir/a.txt' '$H/tar2.txt' && grep -qx 'mod.txt' '$H/tar2.txt' &&
	 ! grep -qx 'big/blob.bin' '$H/tar2.txt' && ! grep -qx 'etc/hosts' '$H/tar2.txt'"
tap_ok "... no overlay xattr in its headers (trusted.overlay.*, user.overlay.*)" sh -c \
	"! gzip -dc '$BLOB2' | grep -aq -e 'xattr.trusted.overlay' -e 'xattr.user.overlay'"

FSD_CACHE=$H/cache-v2 && mkdir -p "$FSD_CACHE"
V2=$H/v2
tap_ok "mount cc/cache:v2" fsd_mount cc/cache:v2 "$V2"
same_tree "$H/want-v2.txt" "$V2" "the mount of v2 equals the overlay's tree"
tap_ok "skopeo + umoci unpack v2" umoci_tree v2 "$H/umoci-v2"
same_tree "$H/want-v2.txt" "$H/umoci-v2/rootfs" "umoci's rootfs of v2 equals the overlay's tree"

# ---- v3: overlay (userxattr) on the mount of v2, squashed by --max-layers 2 ----
O=r2
tap_ok "overlay (userxattr) on the mount of v2" ovl_mount "$V2" "$O" userxattr
M=$H/$O/merged
U=$H/$O/upper
change2() {
	rm "$M/data/h2" || return 1                                      # from layer 1
	rm -r "$M/shared" || return 1                                    # a layer-1 dir
	printf 'back again\n' >"$M/etc/gone.txt" || return 1             # deleted in v2, re-created
	mkdir "$M/olddir" && printf 'back\n' >"$M/olddir/back" || return 1
	printf 'more\n' >>"$M/new/dir/a.txt" || return 1                 # from the commit layer
	rm -r "$M/recreated" && mkdir "$M/recreated" || return 1         # user.overlay.opaque
	printf 'third\n' >"$M/recreated/third" || return 1
	chmod 0755 "$M/secret" || return 1
}
tap_ok "changes through the second overlay" change2
"${LIST[@]}" "$M" >"$H/want-v3.txt"
tap_ok "the upper dir has a 0/0 whiteout" is_whiteout "$U/data/h2"
tap_is "$(getfattr --only-values -n user.overlay.opaque "$U/recreated" 2>/dev/null)" y \
	"the upper dir has a user.overlay.opaque dir"
tap_ok "unmount the overlay" ovl_umount "$O"
rc=0
strata_run commit "$U" "$R:v3" --base "$R:v2" --max-layers 2 >/dev/null 2>&1 || rc=$?
tap_is "$rc" 1 "without --userxattr, its user.overlay.* markers are refused (exit 1)"
tap_ok "... saying to pass --userxattr" grep -q 'it carries user.overlay.*pass --userxattr' "$STRATA_ERR"
tap_is "$(manifest_digest cc/cache:v3 || true)" "" "... and nothing is tagged"
registry_log_mark
rc=0
commit_json "$H/c3.json" "$U" "$R:v3" --base "$R:v2" --max-layers 2 --userxattr || rc=$?
tap_is "$rc" 0 "strata commit --base cc/cache:v2 --max-layers 2 --userxattr exits 0"
# the other way: with --userxattr, a trusted.overlay.* xattr is not a marker
# here, and as data it would be one wherever the layer is unpacked
setfattr -n trusted.overlay.opaque -v y "$U/recreated"
rc=0
strata_run commit "$U" "$R:v3x" --base "$R:v2" --userxattr >/dev/null 2>&1 || rc=$?
tap_is "$rc" 1 "with --userxattr, a trusted.overlay.* xattr in the upper dir is refused (exit 1)"
tap_ok "... saying so" grep -q "it carries trusted.overlay.opaque.*without userxattr" "$STRATA_ERR"
setfattr -x trusted.overlay.opaque "$U/recreated"
C3=$(cat "$H/c3.json")
tap_is "$(jq -c '[.squashed, .layers]' <<<"$C3")" "[true,1]" "JSON: squashed, 1 layer"
mapfile -t LAY3 < <(manifest_layers cc/cache:v3 || true)
tap_is "${#LAY3[@]}" 1 "the v3 manifest has 1 layer"
tap_is "$(jq -r .manifest <<<"$C3")" "$(manifest_digest cc/cache:v3 || true)" \
	"the JSON's manifest is what the tag names"
tap_ok "skopeo + umoci unpack v3" umoci_tree v3 "$H/umoci-v3"
BLOB3=$H/oci/blobs/sha256/${LAY3[0]:-none}; BLOB3=${BLOB3/sha256:/}
tar -tzf "$BLOB3" 2>/dev/null | sed 's|^\./||' | sort >"$H/tar3.txt" || true
tap_ok "GNU tar lists the squashed layer: the base's 6 MiB file is in it" \
	grep -qx 'big/blob.bin' "$H/tar3.txt"
tap_ok "... and no .wh.* name" sh -c "! grep -q '\\.wh\\.' '$H/tar3.txt'"
tap_ok "... nor a deleted path" sh -c \
	"! grep -qx -e 'data/h2' -e 'shared' -e 'shared/a' -e 'handop/old' '$H/tar3.txt'"
same_tree "$H/want-v3.txt" "$H/umoci-v3/rootfs" "umoci's rootfs of v3 equals the overlay's tree"
FSD_CACHE=$H/cache-v3 && mkdir -p "$FSD_CACHE"
V3=$H/v3
tap_ok "mount cc/cache:v3" fsd_mount cc/cache:v3 "$V3"
same_tree "$H/want-v3.txt" "$V3" "the mount of v3 equals the overlay's tree"
tap_ok "no .wh.* name in the mount of v3" sh -c "! find '$V3' -name '.wh.*' | grep -q ."
tap_ok "unmount v3" fsd_umount "$V3"

# ---- v4: append (--max-layers 3) on a mount of v2 whose tag moved meanwhile ----
FSD_CACHE=$H/cache-v4l && mkdir -p "$FSD_CACHE"
L4=$H/lower4
tap_ok "mount cc/cache:v2 again" fsd_mount cc/cache:v2 "$L4"
O=r3
tap_ok "overlay on it" ovl_mount "$L4" "$O"
M=$H/$O/merged
U=$H/$O/upper
change3() {
	printf 'round 3\n' >"$M/r3.txt" || return 1
	rm "$M/etc/hosts" || return 1
	printf 'line 3\n' >>"$M/mod.txt" || return 1
	mkdir -p "$M/keep/a/b/c" && ln -s kept.txt "$M/keep/a/b/c/l" || return 1
}
tap_ok "changes through the third overlay" change3
"${LIST[@]}" "$M" >"$H/want-v4.txt"
tap_ok "unmount the overlay" ovl_umount "$O"
# move the tag: a base taken from the tag instead of the mount would be this one-layer image
mkdir -p "$H/other" && printf 'other\n' >"$H/other/o"
strata_run push "$H/other" "$R:v2" >/dev/null 2>&1 || true
tap_ok "the tag v2 now names another manifest" test "$(manifest_digest cc/cache:v2)" != "$M2"
rc=0
commit_json "$H/c4.json" "$U" "$R:v4" --base "$L4" --max-layers 3 || rc=$?
tap_is "$rc" 0 "strata commit --base MOUNTPOINT --max-layers 3 exits 0"
C4=$(cat "$H/c4.json")
tap_is "$(jq -c '[.squashed, .layers]' <<<"$C4")" "[false,3]" "JSON: not squashed, 3 layers"
mapfile -t LAY4 < <(manifest_layers cc/cache:v4 || true)
tap_is "${LAY4[*]:0:2}" "${LAY2[*]}" "v4's first two layers are those of the mounted v2 (not of the moved tag)"
tap_is "${#LAY4[@]}" 3 "the v4 manifest has 3 layers"
tap_is "$(uploads_of "${LAY2[0]:-none}")$(uploads_of "${LAY2[1]:-none}")" 00 \
	"the base's two layer blobs are not uploaded again"
M4=$(manifest_digest cc/cache:v4 || true)
FSD_CACHE=$H/cache-v4 && mkdir -p "$FSD_CACHE"
V4=$H/v4
tap_ok "mount cc/cache:v4" fsd_mount cc/cache:v4 "$V4"
same_tree "$H/want-v4.txt" "$V4" "the mount of v4 equals the overlay's tree"
tap_ok "skopeo + umoci unpack v4" umoci_tree v4 "$H/umoci-v4"
same_tree "$H/want-v4.txt" "$H/umoci-v4/rootfs" "umoci's rootfs of v4 equals the overlay's tree"
tap_ok "unmount v4" fsd_umount "$V4"

# the same upper dir again, zstd, text output
OUTZ=$(strata_run commit "$U" "$R:v4z" --base "$L4" --compression zstd 2>/dev/null) || true
MZ=$(manifest_digest cc/cache:v4z || true)
tap_is "$(sed -n '1,2p' <<<"$OUTZ")" "pushed $R:v4z"$'\n'"manifest $MZ" \
	"text output: pushed REF, then the manifest digest the tag names"
tap_ok "... a layer line and an index line" sh -c "printf '%s\n' \"\$1\" |
	grep -q '^layer sha256:[0-9a-f]\{64\}' && printf '%s\n' \"\$1\" | grep -q '^index sha256:[0-9a-f]\{64\}'" \
	sh "$OUTZ"
tap_is "$(skopeo inspect --raw --tls-verify=false "docker://$R:v4z" 2>/dev/null |
	jq -r '[.layers[].mediaType | sub(".*[.+]"; "")] | join(",")')" gzip,gzip,zstd \
	"--compression zstd: the new layer is zstd on top of the two gzip base layers"
FSD_CACHE=$H/cache-v4z && mkdir -p "$FSD_CACHE"
tap_ok "mount cc/cache:v4z" fsd_mount cc/cache:v4z "$V4"
same_tree "$H/want-v4.txt" "$V4" "the mount of v4z equals the overlay's tree"
tap_ok "unmount v4z" fsd_umount "$V4"

# squashed on top of the mount (whose tag moved): --max-layers 1
rc=0
commit_json "$H/c5.json" "$U" "$R:v5" --base "$L4" --max-layers 1 || rc=$?
tap_is "$rc" 0 "strata commit --base MOUNTPOINT --max-layers 1 exits 0"
tap_is "$(jq -c '[.squashed, .layers]' "$H/c5.json" 2>/dev/null)" "[true,1]" "JSON: squashed, 1 layer"
FSD_CACHE=$H/cache-v5 && mkdir -p "$FSD_CACHE"
tap_ok "mount cc/cache:v5" fsd_mount cc/cache:v5 "$V4"
same_tree "$H/want-v4.txt" "$V4" "the mount of v5 equals the overlay's tree (the mounted base, squashed)"
tap_ok "unmount v5" fsd_umount "$V4"

# ---- a base with no index in the registry (pushed by skopeo): the mount's own index is used ----
fixture_push single fx/single:v1
FXL=$H/fx-lower
mkdir -p "$FXL"
FSD_CACHE=$H/cache-fx && mkdir -p "$FSD_CACHE"
tap_ok "mount a skopeo-pushed image (its index is built at mount, kept in -o cache)" \
	fsd_mount fx/single:v1 "$FXL"
O=fx
tap_ok "overlay on it" ovl_mount "$FXL" "$O" redirect_dir=off,metacopy=off
echo fx-added >"$H/$O/merged/fx-added.txt"
tap_ok "unmount the overlay" ovl_umount "$O"
registry_log_mark
tap_ok "commit onto the skopeo image, --base the mountpoint" \
	strata_run commit "$H/$O/upper" "$REGISTRY/fx/single:c1" --base "$FXL"
FXLAYER=$(manifest_layers fx/single:v1 | head -n1)
tap_is "$(registry_requests GET "/blobs/$FXLAYER")" 0 \
	"... the base layer was not downloaded: its index came from the mount's cache"
tap_is "$(manifest_layers fx/single:c1 | head -n1)" "$FXLAYER" "... the base layer is the first layer"
tap_ok "unmount the skopeo image" fsd_umount "$FXL"
FSD_CACHE=$H/cache-fx2 && mkdir -p "$FSD_CACHE"
tap_ok "mount the commit with a fresh cache" fsd_mount fx/single:c1 "$FXL"
tap_is "$("$STRATA" stats "$FXL" --json | jq -r '[.layers[] | "\(.index_source)/\(.index_trust)"] | join(",")')" \
	registry/pinned,built/built \
	"... the base's index from the registry, pinned by the commit's manifest (the one the mount built); the small new layer's built by this mount"
tap_is "$(cat "$FXL/fx-added.txt")" fx-added "... the committed file is there"
tap_ok "unmount" fsd_umount "$FXL"

# ---- the build's own user.overlay.* xattrs (a nested rootless overlay's):
# data to an overlay whose markers are trusted.overlay.*, but markers had
# that overlay been mounted with userxattr. A commit cannot tell: refused,
# never guessed (as markers they would hide keep/'s lower files) ----
O=userdata
tap_ok "overlay (trusted.overlay.* markers) on the v4 mount" ovl_mount "$L4" "$O" redirect_dir=off,metacopy=off
setfattr -n user.overlay.opaque -v y "$H/$O/merged/keep"
tap_ok "... it shows keep/'s lower files under the build's user.overlay.opaque" \
	test -e "$H/$O/merged/keep/a"
tap_ok "unmount the overlay" ovl_umount "$O"
rc=0
strata_run commit "$H/$O/upper" "$R:ud" --base "$L4" >/dev/null 2>&1 || rc=$?
tap_is "$rc" 1 "commit of a trusted-mode upper dir carrying user.overlay.* xattrs exits 1"
tap_ok "... naming the xattr and --userxattr" grep -q "keep': it carries user.overlay.opaque.*--userxattr" "$STRATA_ERR"
tap_is "$(manifest_digest cc/cache:ud || true)" "" "... and nothing is tagged"

# ---- refused input: the tag stays where it was ----
O=bad-redirect
tap_ok "overlay with redirect_dir=on" ovl_mount "$L4" "$O" redirect_dir=on,metacopy=off
mv "$H/$O/merged/keep" "$H/$O/merged/kept" 2>/dev/null || true
tap_ok "a renamed lower dir leaves a redirect xattr in the upper dir" \
	test -n "$(getfattr --only-values -n trusted.overlay.redirect "$H/$O/upper/kept" 2>/dev/null)"
tap_ok "unmount the overlay" ovl_umount "$O"
registry_log_mark
rc=0
strata_run commit "$H/$O/upper" "$R:v4" --base "$L4" >/dev/null 2>&1 || rc=$?
tap_is "$rc" 1 "commit of an upper dir with a redirect exits 1"
tap_ok "... saying why (redirect) on stderr" grep -qi 'redirect' "$STRATA_ERR"
tap_is "$(manifest_digest cc/cache:v4 || true)" "$M4" "... the tag v4 still names its manifest"
tap_is "$(registry_requests PUT /manifests/)" 0 "... no manifest was pushed"

O=bad-metacopy
tap_ok "overlay with metacopy=on" ovl_mount "$L4" "$O" redirect_dir=on,metacopy=on
chown 42:42 "$H/$O/merged/mod.txt" 2>/dev/null || true
tap_ok "a chown leaves a metacopy xattr in the upper dir" \
	getfattr -n trusted.overlay.metacopy "$H/$O/upper/mod.txt"
tap_ok "unmount the overlay" ovl_umount "$O"
registry_log_mark
rc=0
strata_run commit "$H/$O/upper" "$R:v4" --base "$L4" >/dev/null 2>&1 || rc=$?
tap_is "$rc" 1 "commit of an upper dir with a metacopy exits 1"
tap_ok "... saying why (metacopy) on stderr" grep -qi 'metacopy' "$STRATA_ERR"
tap_is "$(manifest_digest cc/cache:v4 || true)" "$M4" "... the tag v4 still names its manifest"
tap_is "$(registry_requests PUT /manifests/)" 0 "... no manifest was pushed"

# a name that IS an OCI whiteout marker cannot be stored: every reader would hide it
O=bad-whname
tap_ok "overlay for literal .wh. names" ovl_mount "$L4" "$O" redirect_dir=off,metacopy=off
echo lit >"$H/$O/merged/.wh.literal"
tap_ok "unmount the overlay" ovl_umount "$O"
registry_log_mark
rc=0
strata_run commit "$H/$O/upper" "$R:v4" --base "$L4" >/dev/null 2>&1 || rc=$?
tap_is "$rc" 1 "commit of a file literally named .wh.literal exits 1"
tap_ok "... saying why on stderr" grep -q "'.wh.' is an OCI whiteout marker" "$STRATA_ERR"
tap_is "$(registry_requests PUT /manifests/)" 0 "... no manifest was pushed"
mkdir -p "$H/whdir/a/.wh..wh..opq"
rc=0
strata_run push "$H/whdir" "$R:whdir" >/dev/null 2>&1 || rc=$?
tap_is "$rc" 1 "push of a dir holding a .wh..wh..opq entry exits 1"
tap_is "$(manifest_digest cc/cache:whdir || true)" "" "... and the tag does not exist"

# without CAP_SYS_ADMIN the trusted.overlay.* markers are invisible: refuse, never push a wrong tree
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
	"$STRATA" commit "$H/$O/upper" "$R:v4" --insecure >/dev/null 2>"$H/nocap.err" || rc=$?
tap_is "$rc" 1 "commit without CAP_SYS_ADMIN (uid 65534) exits 1"
tap_ok "... saying the markers need CAP_SYS_ADMIN or --userxattr" \
	grep -q "CAP_SYS_ADMIN.*--userxattr" "$H/nocap.err"
rc=0
"$STRATA" push "$H/whdir" "$R:x" --userxattr >/dev/null 2>&1 || rc=$?
tap_is "$rc" 2 "push --userxattr is a usage error (it is for overlay upper dirs)"

rc=0
strata_run commit "$H/no/such/dir" "$R:v4" --base "$L4" >/dev/null 2>&1 || rc=$?
tap_ok "a missing UPPERDIR fails (exit $rc), no crash" test "$rc" -ne 0 -a "$rc" -lt 128
tap_ok "... naming it" grep -q 'no/such/dir' "$STRATA_ERR"
rc=0
"$STRATA" commit >/dev/null 2>&1 || rc=$?
tap_is "$rc" 2 "commit without arguments is a usage error (exit 2)"
tap_is "$(manifest_digest cc/cache:v4 || true)" "$M4" "the tag v4 still names its manifest"

# ---- nothing left mounted ----
tap_ok "unmount v2" fsd_umount "$V2"
tap_ok "unmount the lower mounts" sh -c "fusermount3 -u '$L' && fusermount3 -u '$L4'"
tap_is "$(grep -c " $H/" /proc/mounts || true)" 0 "no mount left under the test's dir"
tap_done
