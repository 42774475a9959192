#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# stratafs --store as podman's Additional Layer Store (containers-storage,
# overlay driver, "MNT:ref"), podman with a private storage/registries/
# containers config in the test dir. The image: a static busybox layer,
# then the "multi" fixture's five layers (whiteouts, an opaque dir,
# hardlinks, xattrs, a directory a layer carries only for its child), its
# indexes pushed with `strata index --push`. podman pull through the store
# fetches the manifest and config and no whole layer; podman run cats the
# right bytes; the rootfs under `podman mount` equals `umoci unpack`; the
# same by digest; a reference that does not exist is ENOENT; use/release
# signals get ENOENT, other writes EROFS; a registry fault during podman
# run is EIO with a clear error; podman save reads every layer through
# blob; buildah from + run + commit + push keeps the base's diff_ids;
# strata stats shows each image.
. "$(dirname "$0")/mount_lib.sh"
fsd_init
registry_start plain
proxy_start

L="$HARNESS_DIR/layout"
T="$HARNESS_DIR/tree"
P="$HARNESS_DIR/podman"
MNT="$HARNESS_DIR/store"
mkdir -p "$T/bb/bin" "$T/newopq" "$P" "$MNT"
cp /bin/busybox "$T/bb/bin/busybox"
for c in sh cat ls head; do ln -s busybox "$T/bb/bin/$c"; done
_fx_tree_multi_base "$T/base"
echo new1 >"$T/newopq/new1"
echo "a v2" >"$T/a2.txt"
{
	umoci init --layout "$L"
	umoci new --image "$L:mb"
	umoci insert --image "$L:mb" "$T/bb" /
	umoci insert --image "$L:mb" "$T/base" /
	umoci insert --image "$L:mb" --whiteout /gone.txt
	umoci insert --image "$L:mb" --whiteout /gonedir
	umoci insert --image "$L:mb" --opaque "$T/newopq" /opq
	umoci insert --image "$L:mb" "$T/a2.txt" /keep/a.txt
} >"$HARNESS_DIR/umoci.log" 2>&1 || harness_fail "cannot build the image: $(cat "$HARNESS_DIR/umoci.log")"
skopeo copy --quiet "${SKOPEO_DEST_OPTS[@]}" "oci:$L:mb" "docker://$REGISTRY/als/mb:v1" ||
	harness_fail "cannot push the image"
"$STRATA" index "$PROXY/als/mb:v1" --push --tag pinned "${STRATA_REG_OPTS[@]}" >"$HARNESS_DIR/index.log" 2>&1 ||
	harness_fail "strata index --push: $(cat "$HARNESS_DIR/index.log")"
umoci_unpack "$L:mb" "$HARNESS_DIR/ref"
# by digest: the pinning index `--tag pinned` made (it pins the indexes; an
# unpinned index is never used for a reference by digest)
MDIGEST=$(skopeo inspect --raw "${SKOPEO_SRC_OPTS[@]/#--src-/--}" "docker://$REGISTRY/als/mb:pinned" | sha256sum | cut -d' ' -f1)

# podman's world, all in the test dir; the registry is reached through the proxy
cat >"$P/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$P/graph"
runroot = "$P/run"
[storage.options]
additionallayerstores = ["$MNT:ref"]
EOF
cat >"$P/registries.conf" <<EOF
[[registry]]
location = "$PROXY"
insecure = true
EOF
cat >"$P/containers.conf" <<EOF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
EOF
# (no tmp_dir of the test's own: podman then waits 20 s on every run for
# an exit file conmon writes elsewhere, "Exceeded conmon timeout")
export CONTAINERS_STORAGE_CONF="$P/storage.conf" CONTAINERS_REGISTRIES_CONF="$P/registries.conf" \
	CONTAINERS_CONF="$P/containers.conf"
pm() { podman --log-level=error "$@"; }
harness_on_exit "podman rm -a -f >/dev/null 2>&1; podman rmi -a -f >/dev/null 2>&1; umount -R '$P/graph/overlay' 2>/dev/null; true"
harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"

if "$STRATAFS" --store "$MNT" -o "insecure,registry=$PROXY,cache=$FSD_CACHE,io_timeout=3,retries=0" 2>"$HARNESS_DIR/store.err"; then
	tap_pass "stratafs --store mounts"
else
	tap_fail "stratafs --store mounts" "$(cat "$HARNESS_DIR/store.err")"
	tap_done
	exit 1
fi
opts=$(awk -v m="$(readlink -f "$MNT")" '$2 == m { print $4 }' /proc/mounts)
case ",$opts," in *,rw,*nosuid*nodev*) tap_pass "mounted rw,nosuid,nodev ($opts)" ;; *) tap_fail "mounted rw,nosuid,nodev" "$opts" ;; esac

# The store by hand: what containers/storage looks at
b64() { printf '%s' "$1" | base64 -w0; }
IMG="$MNT/$(b64 "$PROXY/als/mb:v1")"
LAYERS=$(jq -r '.layers[].digest' <(skopeo inspect --raw "${SKOPEO_SRC_OPTS[@]/#--src-/--}" "docker://$REGISTRY/als/mb:v1"))
DIFF_IDS=$(skopeo inspect --config "${SKOPEO_SRC_OPTS[@]/#--src-/--}" "docker://$REGISTRY/als/mb:v1" | jq -r '.rootfs.diff_ids[]')
TOP=$(echo "$LAYERS" | tail -n1)
tap_not "a reference that does not exist is ENOENT" stat "$MNT/$(b64 "$PROXY/als/nope:v1")"
tap_not "a name that is not base64 is ENOENT" stat "$MNT/not-base64!"
tap_not "a layer not in the image is ENOENT" stat "$IMG/sha256:$(printf '0%.0s' $(seq 1 64))"
tap_is "$(ls "$IMG/$TOP")" "$(printf 'blob\ndiff\ninfo')" "a layer dir holds blob, diff, info"
info_ok=1
i=0
for d in $LAYERS; do
	i=$((i + 1))
	want=$(echo "$DIFF_IDS" | sed -n "${i}p")
	got=$(jq -r '"\(.["compressed-diff-digest"]) \(.["diff-digest"]) \(.compression)"' "$IMG/$d/info" 2>&1 || true)
	[ "$got" = "$d $want 2" ] || { info_ok=0; tap_diag "layer $i info: $got, want $d $want 2"; }
done
[ "$info_ok" = 1 ] && tap_pass "info: blob digest, diff_id, compression gzip for every layer" || tap_fail "info of every layer"
tap_is "$(sha256sum <"$IMG/$TOP/blob" | cut -d' ' -f1)" "${TOP#sha256:}" "blob reads the compressed blob"
BASE=$(echo "$LAYERS" | sed -n 2p)
registry_log_mark
tap_is "$(sha256sum <"$IMG/$BASE/blob" | cut -d' ' -f1)" "${BASE#sha256:}" "blob of a 1.5 MiB layer reads right"
tap_is "$(registry_blob_gets "$BASE")" "1" "... in one range request (2 MiB pieces), not one per 128 KiB read"
WH=$(echo "$LAYERS" | sed -n 3p)
tap_is "$(stat -c '%F %t:%T' "$IMG/$WH/diff/gone.txt")" "character special file 0:0" "a whiteout is a 0/0 char device"
tap_not "no .wh. file in diff/" sh -c "ls -a '$IMG/$WH/diff' | grep -q '^\.wh\.'"
OPQ=$(echo "$LAYERS" | sed -n 5p)
tap_is "$(getfattr --only-values -n trusted.overlay.opaque "$IMG/$OPQ/diff/opq" 2>/dev/null)" "y" "an opaque dir carries trusted.overlay.opaque=y"
tap_is "$(ls -A "$IMG/$OPQ/diff/opq" | tr '\n' ' ')" "new1 " "an opaque dir has no .wh..wh..opq"
tap_is "$(stat -c '%a %Y' "$IMG/$TOP/diff/keep")" "$(stat -c '%a %Y' "$HARNESS_DIR/ref/rootfs/keep")" \
	"a dir the layer does not carry has the attributes of the layers below"
err=$(touch "$IMG/$TOP/use" 2>&1 || true)
case "$err" in *"No such file"*) tap_pass "use: ENOENT" ;; *) tap_fail "use: ENOENT" "$err" ;; esac
err=$(rmdir "$IMG/$TOP" 2>&1 || true)
case "$err" in *"No such file"*) tap_pass "release (rmdir of the layer dir): ENOENT" ;; *) tap_fail "release: ENOENT" "$err" ;; esac
tap_ok "the layer is still there after the release" test -f "$IMG/$TOP/info"
err=$(touch "$IMG/$TOP/diff/x" 2>&1 || true)
case "$err" in *"Read-only file system"*) tap_pass "other writes: EROFS" ;; *) tap_fail "other writes: EROFS" "$err" ;; esac
tap_not "mkdir in the root fails" mkdir "$MNT/x"
tap_not "MNT/<layer digest> (a store without :ref): ENOENT for a layer whose index is trusted only for its tag" stat "$MNT/$TOP"
tap_not "... and for a layer of no image resolved" stat "$MNT/sha256:$(printf 'a%.0s' $(seq 1 64))"
fixture_push zstd als/zstd:v1 >/dev/null || harness_fail "cannot push the zstd fixture"
ZIMG="$MNT/$(b64 "$PROXY/als/zstd:v1")"
tap_is "$(for d in $(ls "$ZIMG"); do jq -r .compression "$ZIMG/$d/info"; done | sort -u)" "4" \
	"zstd layers: info.compression is 4"
tap_is "$(cat "$ZIMG/$(ls "$ZIMG" | head -n1)/blob" | sha256sum | cut -d' ' -f1)" \
	"$(ls "$ZIMG" | head -n1 | sed 's/^sha256://')" "zstd: blob reads the compressed blob"
ZL=$(ls "$ZIMG" | head -n1)
tap_is "$(jq -r '.["compressed-diff-digest"]' "$MNT/$ZL/info" 2>&1)" "$ZL" \
	"MNT/<layer digest>: a layer whose index was built here (from bytes that hash to it) is served"
inos=$(find "$IMG"/*/diff -xdev \( -type d -o -links 1 \) -printf '%i\n' | sort | uniq -d | head -n3)
tap_is "$inos" "" "inode numbers are unique across the store's layers"

# podman pull: manifest and config from the registry, no layer
registry_log_mark
if pm pull -q "$PROXY/als/mb:v1" >"$HARNESS_DIR/pull.out" 2>&1; then
	tap_pass "podman pull through the store"
else
	tap_fail "podman pull through the store" "$(cat "$HARNESS_DIR/pull.out")"
fi
gets=0
for d in $LAYERS; do gets=$((gets + $(registry_bytes_served "$d"))); done
tap_is "$gets" "0" "podman pull fetched no layer bytes"
# A registry fault while a container reads a file nothing has read yet
pm run --rm --network none "$PROXY/als/mb:v1" sh -c : >/dev/null 2>&1 || true # busybox is read
proxy_mode "status code=404 path=/blobs/"
out=$(pm run --rm --network none "$PROXY/als/mb:v1" cat /opq/new1 2>&1 || true)
case "$out" in
*"cat: read error: Input/output error"*) tap_pass "a registry fault during podman run: EIO ($(echo "$out" | head -n1))" ;;
*) tap_fail "a registry fault during podman run: EIO" "$out" ;;
esac
proxy_mode
tap_is "$(pm run --rm --network none "$PROXY/als/mb:v1" cat /opq/new1 2>&1)" "new1" \
	"the same read succeeds once the registry is back"
tap_is "$(podman image inspect "$PROXY/als/mb:v1" --format '{{.RootFS.Layers}}' | tr -d '[]' | tr ' ' '\n')" \
	"$DIFF_IDS" "the pulled image has the config's diff_ids"
tap_is "$(pm run --rm --network none "$PROXY/als/mb:v1" cat /keep/a.txt 2>&1)" "a v2" "podman run cat prints the upper content"
tap_is "$(pm run --rm --network none "$PROXY/als/mb:v1" sh -c 'cat /links/hard.txt; ls /opq; ls / | grep -c gone' 2>&1)" \
	"$(printf 'hardlink target\nnew1\n0')" "podman run: hardlink, opaque dir, whiteouts"
tap_is "$(pm run --rm --network none "$PROXY/als/mb:v1" sh -c 'cat /big/large.bin' 2>/dev/null | sha256sum | cut -d' ' -f1)" \
	"$(sha256sum <"$HARNESS_DIR/ref/rootfs/big/large.bin" | cut -d' ' -f1)" "podman run reads a 1.5 MiB file right"

dump_rootfs() { # IMAGE OUT
	local c m
	c=$(pm create --network none "$1" true) || return 1
	m=$(pm mount "$c") || return 1
	tree_dump "$m" | grep -v -E '^(dev|proc|sys|run|etc)(/|\|)' >"$2"
	pm umount "$c" >/dev/null
	pm rm "$c" >/dev/null
}
tree_dump "$HARNESS_DIR/ref/rootfs" | grep -v -E '^(dev|proc|sys|run|etc)(/|\|)' >"$HARNESS_DIR/want.txt"
check_rootfs() { # IMAGE LABEL
	if dump_rootfs "$1" "$HARNESS_DIR/got.txt" &&
		diff -u "$HARNESS_DIR/want.txt" "$HARNESS_DIR/got.txt" >"$HARNESS_DIR/diff.txt"; then
		tap_pass "$2: podman mount rootfs equals umoci unpack ($(wc -l <"$HARNESS_DIR/want.txt") paths)"
	else
		tap_fail "$2: podman mount rootfs equals umoci unpack" "$(head -c 3000 "$HARNESS_DIR/diff.txt")"
	fi
}
check_rootfs "$PROXY/als/mb:v1" "by tag"

pm rmi -f "$PROXY/als/mb:v1" >/dev/null 2>&1 || true
registry_log_mark
if pm pull -q "$PROXY/als/mb@sha256:$MDIGEST" >"$HARNESS_DIR/pull2.out" 2>&1; then
	tap_pass "podman pull by digest through the store"
else
	tap_fail "podman pull by digest through the store" "$(cat "$HARNESS_DIR/pull2.out")"
fi
gets=0
for d in $LAYERS; do gets=$((gets + $(registry_bytes_served "$d"))); done
tap_is "$gets" "0" "by digest: no layer bytes fetched"
tap_ok "by digest: the store has the image's dir" test -d "$MNT/$(b64 "$PROXY/als/mb@sha256:$MDIGEST")"
check_rootfs "$PROXY/als/mb@sha256:$MDIGEST" "by digest"
# resolved by the pinning index's digest, its layers' indexes are pinned,
# but by this image's manifest only: another image may pin a forged index
# for the same layer digest (tests/integration/fs/als_trust.sh)
tap_not "MNT/<layer digest>: not for a layer whose index only its image's manifest pins" \
	stat "$MNT/$TOP"
tap_ok "the store's requests carry its own user agent" sh -c \
	"grep -q '\"http.request.useragent\":\"stratafs-store/' '$REGISTRY_LOG'"

# podman save reads each layer through the store's blob (containers/storage
# hands out an additional layer's blob, decompressed): the tars hash to the diff_ids
if pm save -q -o "$HARNESS_DIR/save.tar" "$PROXY/als/mb@sha256:$MDIGEST" >"$HARNESS_DIR/save.out" 2>&1; then
	mkdir -p "$HARNESS_DIR/save"
	tar -xf "$HARNESS_DIR/save.tar" -C "$HARNESS_DIR/save"
	got=$(jq -r '.[0].Layers[]' "$HARNESS_DIR/save/manifest.json" |
		while read -r f; do echo "sha256:$(sha256sum <"$HARNESS_DIR/save/$f" | cut -d' ' -f1)"; done)
	tap_is "$got" "$DIFF_IDS" "podman save: every layer read through blob hashes to its diff_id"
else
	tap_fail "podman save" "$(cat "$HARNESS_DIR/save.out")"
fi

# buildah from + run + commit + push: the pushed image keeps the store's layers
bd() { buildah --log-level=error "$@"; }
if c=$(bd from -q "$PROXY/als/mb:v1" 2>"$HARNESS_DIR/bfrom.err") &&
	bd run --network none "$c" -- sh -c 'cat /keep/a.txt >/built.txt' 2>"$HARNESS_DIR/brun.err" &&
	bd commit -q "$c" "$PROXY/als/built:v1" >/dev/null 2>"$HARNESS_DIR/bcommit.err" &&
	bd push -q --tls-verify=false "$PROXY/als/built:v1" 2>"$HARNESS_DIR/bpush.err"; then
	tap_pass "buildah from, run, commit, push"
else
	tap_fail "buildah from, run, commit, push" "$(cat "$HARNESS_DIR"/b*.err)"
fi
bd rm -a >/dev/null 2>&1 || true
skopeo copy --quiet "${SKOPEO_SRC_OPTS[@]}" "docker://$REGISTRY/als/built:v1" "dir:$HARNESS_DIR/built" ||
	harness_fail "cannot read back the pushed image"
BUILT_IDS=$(jq -r '.config.digest' "$HARNESS_DIR/built/manifest.json" | sed 's/^sha256://' |
	xargs -I{} jq -r '.rootfs.diff_ids[]' "$HARNESS_DIR/built/{}")
tap_is "$(echo "$BUILT_IDS" | head -n 6)" "$DIFF_IDS" "the pushed image's first layers have the base's diff_ids"
tap_is "$(echo "$BUILT_IDS" | wc -l)" "7" "the pushed image has one layer more"
ok=1
i=0
for d in $(jq -r '.layers[].digest' "$HARNESS_DIR/built/manifest.json"); do
	i=$((i + 1))
	f="$HARNESS_DIR/built/${d#sha256:}"
	u=$( (gzip -dc <"$f" 2>/dev/null || zstd -dc <"$f" 2>/dev/null || cat "$f") | sha256sum | cut -d' ' -f1)
	[ "sha256:$u" = "$(echo "$BUILT_IDS" | sed -n "${i}p")" ] || { ok=0; tap_diag "layer $i: sha256:$u"; }
done
[ "$ok" = 1 ] && tap_pass "every pushed layer decompresses to its diff_id" || tap_fail "every pushed layer decompresses to its diff_id"
tap_is "$(pm run --rm --network none "$PROXY/als/built:v1" cat /built.txt 2>&1)" "a v2" "podman run of the built image"

tap_ok "strata stats --json of the store: three images, with their layers" sh -c \
	"'$STRATA' stats '$MNT' --json | jq -e '.store.images | length == 3 and (map(.layers | length) | sort) == [5, 6, 6]'"
tap_ok "strata stats of the store" sh -c "'$STRATA' stats '$MNT' | grep -q '^ref: *$PROXY/als/mb:v1'"

# A store restarted while no container uses it: what was pulled through it runs again
pm rm -a -f >/dev/null 2>&1 || true
tap_ok "with no container running, the store unmounts" fusermount3 -u "$MNT"
tap_ok "... and mounts again (now with -o push_index)" "$STRATAFS" --store "$MNT" \
	-o "insecure,registry=$PROXY,push_index,cache=$FSD_CACHE,io_timeout=3,retries=0"
tap_is "$(pm run --rm --network none "$PROXY/als/mb:v1" cat /keep/a.txt 2>&1)" "a v2" \
	"podman run of an image pulled before the restart reads through the new store"
# -o push_index: an image with no index anywhere is indexed by streaming
# when the store resolves it, and the store pushes what it built
fixture_push single als/single:v1 >/dev/null || harness_fail "cannot push the single fixture"
SIMG="$MNT/$(b64 "$PROXY/als/single:v1")"
tap_ok "the store resolves an image with no index" ls "$SIMG"
for i in $(seq 1 100); do
	strata_idx=$("$STRATA" inspect "$REGISTRY/als/single:v1" --json "${STRATA_REG_OPTS[@]}" 2>/dev/null |
		jq -r '[.layers[].stratafsIndexTrust] | unique | join(",")')
	[ "$strata_idx" = unpinned ] && break
	sleep 0.1
done
tap_is "$strata_idx" unpinned "push_index: the store pushed the index it built (an unpinned artifact)"

pm rm -a -f >/dev/null 2>&1 || true
pm rmi -a -f >/dev/null 2>&1 || true
tap_ok "fusermount3 -u unmounts the store" fusermount3 -u "$MNT"
tap_done
