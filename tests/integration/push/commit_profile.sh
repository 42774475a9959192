#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Access profiles and commits that pay only for what changed, against a
# real registry, real FUSE mounts and a real overlayfs.
#
#   v1  strata push of 8 files of 1.5 MiB over 1 MiB spans
#   v2  overlay on a mount of v1: the build reads f5, f1, f3 (in that
#       order), rewrites f2 with its own bytes and touches f4 (copy-ups
#       that changed nothing), chmods f6 and really changes f7, adds new.txt;
#       `strata commit --base MNT`: f2 and f4 are left out (no byte of them
#       in the layer, counted in the JSON), f6 and f7 are in; the new
#       manifest pins the profile the mount recorded (f5, f1, f3's spans, in
#       that order), and a mount of v2 shows the overlay's tree but f4's mtime
#   replay  a fresh mount of v2 fetches the profile's spans before anything
#       reads them (stats: prefetched, then hits; no on-demand fetch)
#   stale   -o prefetch=FILE naming a layer and spans the image does not
#       have: those are ignored and counted, the others replayed
#   trust   a profile blob in the repository that no manifest pins is never
#       used (a mount of v1); a manifest that pins a malformed profile
#       mounts and serves, without profile prefetch; commit --profile of a
#       malformed file fails
#   record  -o record=FILE writes the mount's profile at unmount;
#       strata stats --profile OUT gives it while mounted
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
fsd_init
registry_start plain

H=$HARNESS_DIR
R=$REGISTRY/pf/cache
SPAN=(--span-size 1048576)

ovl_mount() { # LOWER NAME
	local n=$H/$2
	mkdir -p "$n/upper" "$n/work" "$n/merged"
	harness_on_exit "umount -l '$n/merged' 2>/dev/null"
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$n/upper,workdir=$n/work" "$n/merged"
}
stats() { "$STRATA" stats "$1" --json; }
stat_of() { stats "$1" | jq -r "$2"; }
manifest() { registry_curl "/v2/pf/cache/manifests/$1" -H 'Accept: application/vnd.oci.image.manifest.v1+json'; }
# wait_for MNT JQ-EXPR: until the expression is true (10 s at most)
wait_for() {
	for _ in $(seq 1 200); do
		[ "$(stat_of "$1" "$2")" = true ] && return 0
		sleep 0.05
	done
	stats "$1" | jq -c .profile >&2
	return 1
}
# upload_blob FILE: push FILE as a blob of pf/cache; prints its digest
upload_blob() {
	local d loc
	d="sha256:$(sha256sum "$1" | cut -d' ' -f1)"
	loc=$(registry_curl /v2/pf/cache/blobs/uploads/ -X POST -D - -o /dev/null |
		sed -nE 's/^[Ll]ocation: *([^\r]*).*/\1/p')
	case "$loc" in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
	registry_curl "$loc" -X PUT --data-binary "@$1" -H 'Content-Type: application/octet-stream' \
		-o /dev/null -w '%{http_code}' | grep -q 201 && echo "$d"
}

# ---- v1 ----
B=$H/base
mkdir -p "$B"
for i in 1 2 3 4 5 6 7 8; do head -c 1572864 /dev/urandom >"$B/f$i"; done
find "$B" -exec touch -h -d @1600000000 {} +
OUT1=$(strata_run push "$B" "$R:v1" --json "${SPAN[@]}" 2>/dev/null) || true
L1=$(jq -r .layer <<<"$OUT1" 2>/dev/null || true)
tap_ok "push v1 (8 files of 1.5 MiB over 1 MiB spans)" test "$(jq -r .spans <<<"$OUT1")" -ge 12

# ---- v2: a build over a mount of v1 ----
M1=$H/m1
tap_ok "mount v1" fsd_mount pf/cache:v1 "$M1"
tap_is "$(stat_of "$M1" .profile.source)" none "v1 pins no profile: nothing replayed"
tap_ok "overlay on it" ovl_mount "$M1" o1
O=$H/o1/merged
cat "$O/f5" "$O/f1" "$O/f3" >/dev/null
cp "$O/f2" "$H/f2.copy" && cat "$H/f2.copy" >"$O/f2"    # the same bytes, written back
touch -d @1700000000 "$O/f4"                            # a new mtime only
chmod 0600 "$O/f6"
printf 'changed' | dd of="$O/f7" bs=1 seek=1000 conv=notrunc status=none
printf 'new\n' >"$O/new.txt"
tap_ok "f2, f4, f6 and f7 were copied up" sh -c "ls '$H/o1/upper' | sort | tr '\n' ' ' | grep -qx 'f2 f4 f6 f7 new.txt '"
"$STRATA" stats "$M1" --profile "$H/p1.txt"
tap_is "$(grep -c '^span ' "$H/p1.txt")" "$(stat_of "$M1" .profile.recorded)" \
	"strata stats --profile writes every span recorded so far"
tap_is "$(head -1 "$H/p1.txt")" "stratafs-profile 1" "... in the text form"
tap_ok "... f5's spans (2.5-4 MiB .. 7.5-9 MiB of the tar) come before f1's" \
	awk '/^span/ && !s5 && $3 >= 6291456 && $3 < 9437184 { s5 = NR } /^span/ && !s1 && $3 < 1572864 + 1024 { s1 = NR } END { exit !(s5 && s1 && s5 < s1) }' "$H/p1.txt"
umount "$H/o1/merged"

rc=0
strata_run commit "$H/o1/upper" "$R:v2" --base "$M1" --json >"$H/c2.json" || rc=$?
tap_is "$rc" 0 "commit v2 --base the mount"
tap_is "$(jq -c '[.unchanged_files, .unchanged_bytes]' "$H/c2.json")" "[2,3145728]" \
	"f2 and f4 (copy-ups with the lower's bytes) are left out: 2 files, 3 MiB"
tap_ok "the new layer holds no byte of them: tar under 3.5 MiB (f6, f7 and headers)" \
	test "$(jq -r .tar_size "$H/c2.json")" -lt 3670016
"$STRATA" ls "$R:v2" --layer 1 --insecure >"$H/top.txt" 2>/dev/null || true
tap_is "$(grep -oE 'f[0-9]|new.txt' "$H/top.txt" | sort | tr '\n' ' ')" "f6 f7 new.txt " \
	"the top layer lists f6, f7 and new.txt only"
PD=$(jq -r .profile "$H/c2.json")
tap_ok "the commit pushed a profile" test "${PD#sha256:}" != "$PD"
tap_is "$(manifest v2 | jq -r '.layers[1].annotations["dev.stratafs.profile.digest"]')" "$PD" \
	"the new manifest pins it on the new layer"
tap_is "$(registry_curl "/v2/pf/cache/blobs/$PD" | cmp - "$H/p1.txt" && echo same)" same \
	"the pinned blob is the profile the mount recorded"

# ---- replay ----
FSD_CACHE=$H/cache2 && mkdir -p "$FSD_CACHE"
M2=$H/m2
tap_ok "mount v2 with an empty cache" fsd_mount pf/cache:v2 "$M2"
tap_is "$(stat_of "$M2" .profile.source)" pinned "the profile the manifest pins is replayed"
NP=$(stat_of "$M2" .profile.spans)
tap_ok "it names the spans the build read, f5, f1, f3 and the copy-ups' ($NP)" test "$NP" -ge 6
tap_ok "every one is fetched before anything is read" wait_for "$M2" \
	".profile.prefetched == .profile.spans and .totals.spans_cached >= .profile.spans"
tap_ok "in fewer Range requests than spans (neighbours coalesced)" \
	test "$(stat_of "$M2" .profile.runs)" -lt "$NP"
tap_ok "f5, f1, f3 read back equal" sh -c "cmp '$M2/f5' '$B/f5' && cmp '$M2/f1' '$B/f1' && cmp '$M2/f3' '$B/f3'"
tap_is "$(stat_of "$M2" '[.profile.hits >= 6, .profile.waits, .profile.late, .totals.cache_misses]|@csv')" "true,0,0,0" \
	"their spans were all read after their fetch (hits), none late, no reader waited"
tap_ok "v2 shows f2 and f4 from v1, f7 changed, new.txt" sh -c \
	"cmp '$M2/f2' '$B/f2' && cmp '$M2/f4' '$B/f4' && ! cmp -s '$M2/f7' '$B/f7' && grep -qx new '$M2/new.txt'"
tap_is "$(stat -c '%a %Y' "$M2/f6" "$M2/f4" | tr '\n' ' ')" "600 1600000000 644 1600000000 " \
	"f6's mode changed; f4 keeps v1's mtime (a time-only change is dropped)"

# ---- stale spans ----
mapfile -t SP < <(grep '^span 0 ' "$H/p1.txt" | head -2)
{
	echo "stratafs-profile 1"
	echo "layer $L1"
	echo "layer sha256:$(printf '%064d' 0)"
	echo "${SP[0]}"
	echo "span 1 0 1048576"
	echo "span 0 ${SP[1]#span 0 } " | awk '{ print $1, $2, $3, $4 - 1 }'
	echo "${SP[1]}"
} >"$H/stale.txt"
FSD_CACHE=$H/cache3 && mkdir -p "$FSD_CACHE"
M3=$H/m3
tap_ok "mount v1 with -o prefetch=FILE naming spans it does not have" \
	fsd_mount pf/cache:v1 "$M3" "prefetch=$H/stale.txt"
tap_is "$(stat_of "$M3" '[.profile.source, .profile.spans, .profile.stale]|@csv')" '"file",2,2' \
	"2 spans replayed, 2 ignored (a layer it does not have, a range its index does not cut)"
tap_ok "... and the 2 fetched" wait_for "$M3" ".profile.prefetched == 2"
tap_ok "the mount reads right" cmp "$M3/f1" "$B/f1"
fusermount3 -u "$M3"

# ---- trust ----
PB=$(upload_blob "$H/p1.txt")
tap_is "$PB" "$PD" "the profile blob is in the repository"
FSD_CACHE=$H/cache4 && mkdir -p "$FSD_CACHE"
M4=$H/m4
tap_ok "mount v1 (whose manifest pins no profile)" fsd_mount pf/cache:v1 "$M4"
sleep 0.3
tap_is "$(stat_of "$M4" '[.profile.source, .profile.prefetched, .totals.spans_fetched]|@csv')" \
	'"none",0,0' "an unpinned profile blob is never used: nothing fetched"
fusermount3 -u "$M4"

printf 'stratafs-profile 1\nlayer %s\nspan 0 0 1048576 extra\n' "$L1" >"$H/bad.txt"
BAD=$(upload_blob "$H/bad.txt")
manifest v2 | jq -c --arg d "$BAD" '.layers[1].annotations["dev.stratafs.profile.digest"] = $d' \
	>"$H/forged.json"
tap_is "$(registry_curl /v2/pf/cache/manifests/forged -X PUT --data-binary "@$H/forged.json" \
	-H 'Content-Type: application/vnd.oci.image.manifest.v1+json' -o /dev/null -w '%{http_code}')" \
	201 "push a manifest pinning a malformed profile"
FSD_CACHE=$H/cache5 && mkdir -p "$FSD_CACHE"
M5=$H/m5
tap_ok "mount it" fsd_mount pf/cache:forged "$M5"
tap_is "$(stat_of "$M5" '[.profile.source, .profile.spans]|@csv')" '"none",0' \
	"the malformed profile is refused: no replay"
tap_ok "the mount still serves" cmp "$M5/f3" "$B/f3"
fusermount3 -u "$M5"
rc=0
strata_run commit "$H/o1/upper" "$R:v3" --base "$M1" --profile "$H/bad.txt" >/dev/null 2>&1 || rc=$?
tap_is "$rc" 1 "commit --profile of a malformed file fails"

# ---- record=FILE ----
FSD_CACHE=$H/cache6 && mkdir -p "$FSD_CACHE"
M6=$H/m6
tap_ok "mount v1 with -o record=FILE,prefetch=none" fsd_mount pf/cache:v1 "$M6" "record=$H/rec.txt,prefetch=none"
cat "$M6/f8" >/dev/null
# a leftover of a killed daemon that had this pid, as containers reuse pids:
# the save used "<FILE>.tmp.<pid>" exclusively, failed and lost the profile
pid=$(pgrep -f -- "$M6" | head -1)
touch "$H/rec.txt.tmp.$pid"
tap_ok "unmount (daemon $pid)" fsd_umount "$M6"
tap_ok "the profile file names f8's spans (2 or 3)" sh -c \
	"head -1 '$H/rec.txt' | grep -qx 'stratafs-profile 1' && test \$(grep -c '^span 0 ' '$H/rec.txt') -ge 2"
# A warm cache (a CI machine that keeps it): the replay finds the spans
# there, and their reads count as local, not late (they were all "late").
tap_ok "remount v1 on that cache with -o prefetch=FILE" fsd_mount pf/cache:v1 "$M6" "prefetch=$H/rec.txt"
cat "$M6/f8" >/dev/null
NR=$(grep -c '^span 0 ' "$H/rec.txt")
tap_is "$(stat_of "$M6" '[.profile.local, .profile.late, .profile.hits, .totals.spans_fetched]|@csv')" \
	"$NR,0,0,0" "f8's $NR spans were local: none late, none fetched"
fusermount3 -u "$M6"

tap_ok "unmount v2 and v1" sh -c "fusermount3 -u '$M2' && fusermount3 -u '$M1'"

# ---- garbage collection ----
# A registry's garbage collector deletes every blob no manifest references;
# the manifest names the profile in an annotation only, so the index
# artifact lists it too. (It was deleted, and mounts of v2 lost the replay.)
registry_gc
tap_ok "the registry's garbage collector ran" grep -q 'blobs marked' "$HARNESS_DIR/gc.log"
tap_ok "... and kept the profile blob" sh -c "! grep -q 'eligible for deletion: $PD' '$HARNESS_DIR/gc.log'"
FSD_CACHE=$H/cache7 && mkdir -p "$FSD_CACHE"
M7=$H/m7
tap_ok "mount v2 after it" fsd_mount pf/cache:v2 "$M7"
tap_ok "the pinned profile is replayed" wait_for "$M7" \
	'.profile.source == "pinned" and .profile.prefetched == .profile.spans and .profile.spans > 0'
fusermount3 -u "$M7"

# strata index --force replaces the artifacts the referrers fallback tag
# lists: the commit's, the one that listed the profile, is then listed by
# no tag. The new artifact lists the profile its subject pins too.
R=$REGISTRY/pf/cache
tap_ok "strata index v2 --push --force" strata_run index "$R:v2" --push --force
V2=$(manifest v2 | sha256sum | cut -d' ' -f1)
ART=$(registry_curl "/v2/pf/cache/manifests/sha256-$V2" -H 'Accept: application/vnd.oci.image.index.v1+json' |
	jq -r '.manifests[] | select(.artifactType == "application/vnd.stratafs.index.v1") | .digest')
tap_is "$(wc -w <<<"$ART" | tr -d ' ')" 1 "the fallback tag lists one index artifact, the new one"
tap_is "$(registry_curl "/v2/pf/cache/manifests/$ART" -H 'Accept: application/vnd.oci.image.manifest.v1+json' |
	jq -r '.layers[] | select(.mediaType == "application/vnd.stratafs.profile.v1") | .digest')" "$PD" \
	"... and it lists the profile v2 pins"
tap_done
