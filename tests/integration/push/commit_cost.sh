#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What a small commit uploads (issue 15: "commit only what changed"),
# counted from the registry's log, against a real registry, real FUSE
# mounts and a real overlayfs.
#
#   v1  strata push of a small tree (indexed: strata push indexes every layer)
#   c2  overlay on a mount of v1: the build reads two files, rewrites one
#       with its own bytes (left out) and writes 24 small new files (~9.6
#       KB); `strata commit --base MNT`. Exactly these PUTs: the layer, the
#       access profile, the config (blobs), the index artifact (by digest),
#       its referrers fallback tag and the tag (manifests). No index for the
#       new layer (<= 64 KiB: the mount fetches it whole and indexes it),
#       so no index blob. Bytes PUT <= 1.2x the bytes changed + 4 KiB (the
#       config, manifests and profile, which do not grow with the change).
#   c3  the same over a mount of c2: the same set of PUTs, none of them an
#       index of c2's small layer (the base's unindexed layer stays so), c2's
#       layer not downloaded by the commit.
#   read  a fresh mount of c3 shows the overlay's tree (bytes, modes);
#       the small layers' indexes are built by that mount from the verified
#       blobs; `strata inspect` says why they have none; --index-all pins
#       one for a small layer again; strata cat reads the small layers too.
#   alone  a small commit with no base: no index, hence no index artifact:
#       the layer, the config and the tag are all it PUTs.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
fsd_init
registry_start plain

H=$HARNESS_DIR
REPO=cost/cache
R=$REGISTRY/$REPO

ovl_mount() { # LOWER NAME
	local n=$H/$2
	mkdir -p "$n/upper" "$n/work" "$n/merged"
	harness_on_exit "umount -l '$n/merged' 2>/dev/null"
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$n/upper,workdir=$n/work" "$n/merged"
}
# content TREE: path, type, mode and sha256 of every entry (times left out:
# a copy-up that changed nothing keeps the lower's mtime)
content() { tree_dump "$1" | cut -d'|' -f1-4,6-; }
# puts: "blob DIGEST" and "manifest REFERENCE" of every PUT since the mark, sorted
puts() {
	registry_responses | jq -r 'select(.["http.request.method"] == "PUT") | .["http.request.uri"]' |
		sed -nE 's#^/v2/.*/blobs/uploads/.*digest=sha256%3A([0-9a-f]{64}).*#blob sha256:\1#p
			s#^/v2/.*/manifests/([^?]*).*#manifest \1#p' | sort
}
# put_bytes: bytes of every blob and manifest PUT since the mark (their sizes in the registry)
put_bytes() {
	local kind ref n total=0
	while read -r kind ref; do
		if [ "$kind" = blob ]; then
			n=$(registry_curl "/v2/$REPO/blobs/$ref" -I | sed -nE 's/^[Cc]ontent-[Ll]ength: *([0-9]+).*/\1/p')
		else
			n=$(registry_curl "/v2/$REPO/manifests/$ref" -I \
				-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
				-H 'Accept: application/vnd.oci.image.index.v1+json' |
				sed -nE 's/^[Cc]ontent-[Ll]ength: *([0-9]+).*/\1/p')
		fi
		total=$((total + ${n:-0}))
	done < <(puts)
	echo "$total"
}
manifest() { registry_curl "/v2/$REPO/manifests/$1" -H 'Accept: application/vnd.oci.image.manifest.v1+json'; }

# ---- v1 ----
B=$H/base
mkdir -p "$B/src" "$B/stats"
for i in 1 2 3 4; do head -c 40000 /dev/urandom | base64 >"$B/src/f$i.c"; done
for i in 1 2 3; do printf 'stats %s\n' "$i" >"$B/stats/s$i"; done
OUT1=$(strata_run push "$B" "$R:v1" --json 2>/dev/null) || true
tap_ok "push v1 (its layer indexed: strata push indexes every layer)" \
	test -n "$(jq -r '.index_artifact // empty' <<<"$OUT1")"

# commit_round TAG BASE_TAG: mount BASE_TAG, build over it, commit as TAG; sets CH (bytes changed)
commit_round() {
	local tag=$1 base=$2 m=$H/m-$1 o
	FSD_CACHE=$H/cache-$tag && mkdir -p "$FSD_CACHE"
	tap_ok "$tag: mount $base" fsd_mount "$REPO:$base" "$m"
	tap_ok "$tag: overlay on it" ovl_mount "$m" "o-$tag"
	o=$H/o-$tag/merged
	cat "$o/src/f2.c" "$o/src/f4.c" >/dev/null              # what the build reads
	cp "$o/src/f1.c" "$H/f1.copy" && cat "$H/f1.copy" >"$o/src/f1.c" # copied up, same bytes
	mkdir -p "$o/stats/$tag"
	for i in $(seq 1 24); do head -c 300 /dev/urandom | base64 -w0 >"$o/stats/$tag/n$i"; done
	content "$o" >"$H/want-$tag.txt"
	umount "$o"
	CH=$(cat "$H/o-$tag/upper/stats/$tag"/* | wc -c)
	registry_log_mark
	rc=0
	strata_run commit "$H/o-$tag/upper" "$R:$tag" --base "$m" --json >"$H/$tag.json" || rc=$?
	tap_is "$rc" 0 "$tag: strata commit --base the mount"
	tap_is "$(jq -r '[.unchanged_files, (.profile != null)] | @csv' "$H/$tag.json")" "1,true" \
		"$tag: the rewritten f1.c left out; an access profile pinned"
}

# expect_puts TAG: exactly the layer, profile and config blobs; the artifact, fallback tag and tag
expect_puts() {
	local tag=$1 j=$H/$1.json md
	md=$(jq -r .manifest "$j")
	printf '%s\n' "blob $(jq -r .layer "$j")" "blob $(jq -r .profile "$j")" \
		"blob $(jq -r .config "$j")" "manifest $(jq -r .index_artifact "$j")" \
		"manifest sha256-${md#sha256:}" "manifest $tag" | sort >"$H/puts-want-$tag.txt"
	puts >"$H/puts-$tag.txt"
	if diff -u "$H/puts-want-$tag.txt" "$H/puts-$tag.txt" >"$H/puts-$tag.diff"; then
		tap_pass "$tag: PUT exactly layer, profile, config, index artifact, fallback tag, tag (no index blob)"
	else
		tap_fail "$tag: PUT exactly layer, profile, config, index artifact, fallback tag, tag (no index blob)" \
			"$(cat "$H/puts-$tag.diff")"
	fi
	UP=$(put_bytes)
	tap_ok "$tag: $UP bytes PUT for $CH bytes changed: <= 1.2x + 4096" \
		test "$UP" -le $((CH * 12 / 10 + 4096))
	tap_is "$(manifest "$tag" | jq -r '.layers[-1].annotations["dev.stratafs.index.digest"] // "none"')" \
		none "$tag: the manifest pins no index for the small new layer"
	tap_is "$(manifest "$tag" | jq -r '.layers[0].annotations["dev.stratafs.index.digest"] // "none"')" \
		"$(manifest v1 | jq -r '.layers[0].annotations["dev.stratafs.index.digest"]')" \
		"$tag: ... and still pins v1's index for v1's layer"
}

commit_round c2 v1
expect_puts c2
C2LAYER=$(jq -r .layer "$H/c2.json")
fsd_umount "$H/m-c2"

commit_round c3 c2
expect_puts c3
tap_is "$(registry_blob_gets "$C2LAYER")" 0 "c3: the commit did not download c2's layer (no index built for it)"
tap_is "$(manifest c3 | jq -r '[.layers[] | .annotations["dev.stratafs.index.digest"] // "none"] | .[1:] | join(",")')" \
	none,none "c3: c2's and c3's small layers: no index pinned"
fsd_umount "$H/m-c3"

# ---- read back ----
FSD_CACHE=$H/cache-read && mkdir -p "$FSD_CACHE"
M=$H/m-read
registry_log_mark
tap_ok "mount c3 by digest, fresh cache" fsd_mount "$REPO@$(jq -r .manifest "$H/c3.json")" "$M"
content "$M" >"$H/got-c3.txt"
tap_is "$(registry_bytes_served "$C2LAYER"),$(registry_blob_gets "$C2LAYER")" \
	"$(jq -r .layer_size "$H/c2.json"),1" \
	"c2's small layer fetched once, whole, for its index and every read of it"
tap_diag "a mount of c3 by digest and reading every file: $(registry_requests) requests"
if diff -u "$H/want-c3.txt" "$H/got-c3.txt" >"$H/got-c3.diff"; then
	tap_pass "the mount of c3 shows the overlay's tree (bytes, modes, owners)"
else
	tap_fail "the mount of c3 shows the overlay's tree (bytes, modes, owners)" "$(head -c 4000 "$H/got-c3.diff")"
fi
tap_is "$("$STRATA" stats "$M" --json | jq -r '[.layers[] | "\(.index_source)/\(.index_trust)"] | join(",")')" \
	registry/pinned,built/built,built/built \
	"v1's index pinned from the registry; the two small layers indexed by this mount from their verified blobs"
tap_is "$(cat "$M/stats/c2/n1" | wc -c)" 400 "a file of c2's unindexed layer reads whole"
fsd_umount "$M"
tap_is "$("$STRATA" cat "$R:c3" stats/c3/n7 --insecure --cache "$H/cache-cat" 2>/dev/null | sha256sum)" \
	"$(sha256sum <"$H/o-c3/upper/stats/c3/n7")" "strata cat (no FUSE) reads a file of c3's unindexed layer"
tap_is "$("$STRATA" inspect "$R:c3" --insecure --json | jq -r '[.layers[] | .indexNone // "-"] | join(",")')" \
	"-,small layer: a mount fetches it whole and indexes it,small layer: a mount fetches it whole and indexes it" \
	"strata inspect says why the small layers have no index"

# ---- --index-all: an index for a small layer again ----
M=$H/m-c3
FSD_CACHE=$H/cache-all && mkdir -p "$FSD_CACHE"
registry_log_mark
tap_ok "mount c3" fsd_mount "$REPO:c3" "$M"
tap_diag "a mount of c3 by tag (unpinned indexes allowed: referrers looked up for the small layers): $(registry_requests) requests"
mkdir -p "$H/up-all"
echo small >"$H/up-all/one.txt"
rc=0
strata_run commit "$H/up-all" "$R:all" --base "$M" --index-all --json >"$H/all.json" || rc=$?
tap_is "$rc" 0 "commit --index-all"
tap_is "$(manifest all | jq -r '[.layers[] | .annotations["dev.stratafs.index.digest"] // empty] | length')" 4 \
	"... pins an index for its small layer (and for c2's and c3's: built by the --base mount)"
fsd_umount "$M"

# ---- no base, one small layer: no index anywhere, so no index artifact ----
mkdir -p "$H/up-alone"
echo alone >"$H/up-alone/one.txt"
registry_log_mark
rc=0
strata_run commit "$H/up-alone" "$R:alone" --json >"$H/alone.json" || rc=$?
tap_is "$rc,$(jq -r '.index_artifact // "none"' "$H/alone.json")" 0,none \
	"commit of a small layer with no base: no index artifact"
printf '%s\n' "blob $(jq -r .layer "$H/alone.json")" "blob $(jq -r .config "$H/alone.json")" \
	"manifest alone" | sort >"$H/puts-want-alone.txt"
tap_is "$(puts | tr '\n' ' ')" "$(tr '\n' ' ' <"$H/puts-want-alone.txt")" \
	"... PUT only the layer, the config and the tag"
FSD_CACHE=$H/cache-alone && mkdir -p "$FSD_CACHE"
tap_ok "... and it mounts" fsd_mount "$REPO:alone" "$H/m-alone"
tap_is "$(cat "$H/m-alone/one.txt")" alone "... and reads"
fsd_umount "$H/m-alone"
tap_done
