#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The chain of trust, attacked as someone with push rights to a repository
# would (index/FORMAT.md, "Trust"): a forged stratafs index for a layer
# pushed by skopeo (third-party), reachable through the referrers fallback
# tag, that loads and whose every span verifies (forge_index.py keeps the
# spans and edits the entries: a setuid bit, one file's bytes pointing at
# another's, an owner).
#   - control: a mount that trusts unpinned indexes shows the forgery (so
#     the forgery is real and this test can fail);
#   - by digest (default policy), also with prefetch=all and on a cache dir
#     that already holds the forged index: exactly GNU tar's extraction;
#   - strata push --base REF@digest --max-layers 1 (squash): GNU tar's tree;
#   - cross-repository: the forged index loaded for one repository is not
#     served to another repository's mount of the same layer;
#   - a forged index appended as a second referrer;
#   - the index bomb: refused, the mount still right and quick;
#   - repair: strata index --push --force wins over the forgery for tag mounts;
#   - pinned results stay lazy: strata index --push --tag (pinning index)
#     and strata push, each mounted by digest on a fresh cache, read one
#     small file fetching < 10 % of the layer.
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
. "$SRCDIR/tests/harness/lib_strata.sh"
fsd_init
registry_start plain
STRATA_ERR="$HARNESS_DIR/strata.err"
STRATA_REG_OPTS+=(--cache "$HARNESS_DIR/tokens")
FORGE="$SRCDIR/tests/integration/trust/forge_index.py"
W="$HARNESS_DIR/w"
mkdir -p "$W"

# A third-party image: the "single" fixture pushed by skopeo (one gzip
# member, so its index needs windows), in two repositories.
fixture_push single trust/app:v1 >/dev/null
fixture_push single trust/other:v1 >/dev/null
LAYOUT=$(fixture_build single)
MAN="$LAYOUT/blobs/sha256/$(_fx_manifest "$LAYOUT" single)"
LAYER=$(jq -r '.layers[0].digest' "$MAN")
MDIG="sha256:$(sha256sum "$MAN" | cut -d' ' -f1)"
[ "$(registry_curl "/v2/trust/app/manifests/$MDIG" -I -o /dev/null -w '%{http_code}' \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json')" = 200 ] ||
	harness_fail "skopeo changed the manifest: $MDIG is not in the registry"

# The oracle: GNU tar's extraction of the layer, as root (owners, modes
# kept). umoci leaves out the end-of-archive blocks (and the last member's
# padding), which GNU tar reports as an error: zeros are appended for it.
mkdir -p "$W/oracle"
{ gzip -dc "$LAYOUT/blobs/sha256/${LAYER#sha256:}" && head -c 10240 /dev/zero; } |
	tar -x -C "$W/oracle" --same-owner -p --numeric-owner 2>/dev/null ||
	harness_fail "GNU tar cannot extract the layer"
tree_dump "$W/oracle" >"$W/oracle.txt"

# The forgery, published as an index artifact of the manifest (fallback tag).
"$STRATA" index "$LAYOUT/blobs/sha256/${LAYER#sha256:}" --span-size 64K -o "$W/genuine.idx" >/dev/null ||
	harness_fail "index the layer"
"$PY" "$FORGE" forge "$W/genuine.idx" "$W/forged.idx" || harness_fail "forge"
"$PY" "$FORGE" bomb "$W/genuine.idx" "$W/bomb.idx" 1000000 || harness_fail "bomb"
"$PY" "$FORGE" shift "$W/genuine.idx" "$LAYOUT/blobs/sha256/${LAYER#sha256:}" "$W/shifted.idx" ||
	harness_fail "shift"
printf '{}' >"$W/empty.json"
publish() { # REPO INDEXFILE... : one artifact per file; the fallback tag lists them in order
	local repo=$1 f d a entries=() art
	shift
	registry_push_blob "$repo" "$W/empty.json" >/dev/null || return 1
	for f in "$@"; do
		d=$(registry_push_blob "$repo" "$f") || return 1
		art="$f.artifact.json"
		jq -nc --arg d "$d" --argjson s "$(stat -c %s "$f")" --arg l "$LAYER" --arg m "$MDIG" \
			--argjson ms "$(stat -c %s "$MAN")" \
			'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
			  artifactType: "application/vnd.stratafs.index.v1",
			  config: {mediaType: "application/vnd.oci.empty.v1+json",
			    digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
			    size: 2},
			  layers: [{mediaType: "application/vnd.stratafs.index.v1+zstd", digest: $d, size: $s,
			    annotations: {"dev.stratafs.layer.digest": $l}}],
			  subject: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m,
			    size: $ms}}' | tr -d '\n' >"$art"
		a="sha256:$(sha256sum "$art" | cut -d' ' -f1)"
		registry_push_manifest "$repo" "$a" "$art" application/vnd.oci.image.manifest.v1+json \
			>/dev/null || return 1
		entries+=("$(jq -nc --arg a "$a" --argjson s "$(stat -c %s "$art")" \
			'{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $s,
			  artifactType: "application/vnd.stratafs.index.v1"}')")
	done
	printf '%s\n' "${entries[@]}" | jq -sc '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.index.v1+json", manifests: .}' >"$W/fallback.json"
	registry_push_manifest "$repo" "sha256-${MDIG#sha256:}" "$W/fallback.json" \
		application/vnd.oci.image.index.v1+json >/dev/null
}
tap_ok "the forged index is published as the image's referrer" publish trust/app "$W/forged.idx"

mount_as() { # REF CACHE [OPTS] -> prints the mountpoint (a new one each time)
	local m
	m=$(mktemp -d "$W/m.XXXXXX")
	FSD_CACHE=$2 fsd_mount "$1" "$m" "${3:-}" >/dev/null 2>"$m.err" || {
		cat "$m.err" >&2
		return 1
	}
	echo "$m"
}
trust_of() { "$STRATA" stats "$1" --json | jq -r '[.layers[].index_trust] | join(",")'; }

# Control: trusting unpinned indexes shows the forged tree.
m=$(mount_as "trust/app@$MDIG" "$W/c-control" unpinned=always) || harness_fail "mount (control)"
tap_is "$(trust_of "$m")" unpinned "control: the forged index is used when unpinned indexes are trusted"
tap_is "$(stat -c %a "$m/bin/hello")" 4755 "control: the forgery shows a setuid bit"
tap_ok "control: the forgery shows etc/hostname with etc/os-release's bytes" cmp "$m/etc/hostname" "$W/oracle/etc/os-release"
tree_dump "$m" >"$W/control.txt"
tap_not "control: the forged tree differs from GNU tar's" cmp -s "$W/oracle.txt" "$W/control.txt"
fsd_umount "$m"

check_tree() { # MNT NAME
	tree_dump "$1" >"$W/$2.txt"
	if diff -u "$W/oracle.txt" "$W/$2.txt" >"$W/$2.diff"; then
		tap_pass "$2: exactly GNU tar's extraction"
	else
		tap_fail "$2: exactly GNU tar's extraction" "$(head -20 "$W/$2.diff")"
	fi
}

# By digest, default policy: the forgery is never used.
m=$(mount_as "trust/app@$MDIG" "$W/c1") || harness_fail "mount by digest"
tap_is "$(trust_of "$m")" built "by digest: the index is built here, the referrer ignored"
check_tree "$m" "by digest"
fsd_umount "$m"
m=$(mount_as "trust/app@$MDIG" "$W/c2" prefetch=all) || harness_fail "mount prefetch=all"
check_tree "$m" "by digest with prefetch=all"
fsd_umount "$m"
# The cache dir of the control mount holds the forged index and its spans.
m=$(mount_as "trust/app@$MDIG" "$W/c-control") || harness_fail "mount on the control's cache"
tap_is "$(trust_of "$m")" built "by digest on a cache that holds the forged index: not used"
check_tree "$m" "by digest on the poisoned cache"
fsd_umount "$m"

# Cross-repository: trust/other has the same layer and its own genuine index.
strata_run index "$REGISTRY/trust/other:v1" --push --span-size 64K >/dev/null ||
	harness_fail "index trust/other"
m=$(mount_as "trust/app:v1" "$W/c3" unpinned=always) || harness_fail "mount app (forged)"
tap_is "$(stat -c %a "$m/bin/hello")" 4755 "cross-repo: app:v1 by tag shows its forged index"
fsd_umount "$m"
m=$(mount_as "trust/other:v1" "$W/c3") || harness_fail "mount other"
tap_is "$(trust_of "$m")" unpinned "cross-repo: other:v1 by tag uses its own referrer"
check_tree "$m" "cross-repo: other:v1 on the cache that loaded app's forgery"
fsd_umount "$m"

# The squash reads every byte through an index: never the forged one.
# strata commit of a plain directory (an upper dir with one new file) onto
# the image by digest, squashed into one layer.
mkdir -p "$W/add"
echo added >"$W/add/added.txt"
strata_run commit "$W/add" "$REGISTRY/trust/sq:v1" --base "$REGISTRY/trust/app@$MDIG" --max-layers 1 \
	>/dev/null || harness_fail "commit --max-layers 1"
rm -rf "$W/sq"
skopeo copy --quiet --src-tls-verify=false "docker://$REGISTRY/trust/sq:v1" "oci:$W/sqlayout:sq" &&
	umoci unpack --image "$W/sqlayout:sq" "$W/sq" >/dev/null || harness_fail "pull the squash"
tap_is "$(jq '.layers | length' "$W/sqlayout/blobs/sha256/$(jq -r '.manifests[0].digest' "$W/sqlayout/index.json" | cut -d: -f2)")" 1 \
	"squash: one layer"
tap_is "$(cat "$W/sq/rootfs/added.txt")" added "squash: the committed file is in it"
rm "$W/sq/rootfs/added.txt"
tree_dump "$W/sq/rootfs" >"$W/squash.txt"
if diff -u "$W/oracle.txt" "$W/squash.txt" >"$W/squash.diff"; then
	tap_pass "strata commit --max-layers over the forged base: exactly GNU tar's extraction (plus the new file)"
else
	tap_fail "strata commit --max-layers over the forged base" "$(head -20 "$W/squash.diff")"
fi

# A cached span file rewritten consistently (payload and its trailer's hash),
# as a process trusting another index of the layer would write it.
m=$(mount_as "trust/app@$MDIG" "$W/c12") || harness_fail "mount for the span cache"
cat "$m/etc/hostname" "$m/data/text.txt" >/dev/null
fsd_umount "$m"
span=$(find "$W/c12/v1/spans" -type f | head -n 1)
"$PY" - "$span" <<'PY' || harness_fail "rewrite the span file"
import hashlib, sys
p = sys.argv[1]
b = open(p, "rb").read()
body, trailer = b[:-64], bytearray(b[-64:])  # the payload, then a 64-byte trailer
assert trailer[:8] == b"SFSPAN03"
forged = body.replace(b"stratafs-fixture", b"attacker-fixture")
assert forged != body
trailer[24:56] = hashlib.sha256(forged).digest()
open(p, "wb").write(forged + bytes(trailer))
PY
m=$(mount_as "trust/app@$MDIG" "$W/c12") || harness_fail "mount over the rewritten span"
check_tree "$m" "a consistently rewritten span file: refused, fetched again"
fsd_umount "$m"

# A live mount's span files replaced by files a forward pass writes for the
# spans it only goes through (fs/zstream.c): the trailer names the hash the
# index claims, flagged as not hashed, over bytes nobody checked (here:
# wrong ones, as from a mirror that served bad bytes for a range no reader
# asked). The mount verified the earlier files; it must check these before
# serving them, not trust the name it verified once. trust/other:v1 has
# the same layer with 64 KiB spans (its own index); mem_max=1 keeps no span
# but the last one read in memory, so the reads go to the files.
m=$(mount_as "trust/other:v1" "$W/c13" mem_max=1) || harness_fail "mount for the live swap"
check_tree "$m" "before the live swap"
"$PY" - "$W/c13/v1/spans" <<'PY' || harness_fail "swap the span files"
import os, sys
n = 0
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(d, f)
        b = open(p, "rb").read()
        body, trailer = bytearray(b[:-64]), bytearray(b[-64:])
        assert trailer[:8] == b"SFSPAN03" and trailer[56] == 0
        body[0] ^= 0xFF            # not the bytes the (unchanged) hash names
        trailer[56] = 1            # the writer did not hash them
        open(p + ".new", "wb").write(bytes(body) + bytes(trailer))
        os.rename(p + ".new", p)   # as a cache write lands: a new file by the old name
        n += 1
assert n >= 2, n
PY
before=$("$STRATA" stats "$m" --json | jq .totals.fetches)
sync && echo 3 >/proc/sys/vm/drop_caches
check_tree "$m" "a live mount's verified span files replaced by unhashed ones: checked, refused, fetched again"
tap_ok "... the replaced files were read and refused (fetches $before -> $("$STRATA" stats "$m" --json | jq .totals.fetches))" \
	test "$("$STRATA" stats "$m" --json | jq .totals.fetches)" -gt "$before"
fsd_umount "$m"

# A forged index added as a second referrer after a genuine one.
publish trust/app "$W/genuine.idx" "$W/forged.idx" || harness_fail "publish two"
m=$(mount_as "trust/app@$MDIG" "$W/c4") || harness_fail "mount, two referrers"
check_tree "$m" "by digest, forged second referrer"
fsd_umount "$m"

# The whole-layer check: an index whose spans verify but decode 512 bytes
# off from its last checkpoint on. Trusted (unpinned=always), a plain
# mount serves wrong bytes; with prefetch=all the layer is read in full,
# its tar does not hash to the config's diff_id, and reads fail.
check_of() { "$STRATA" stats "$1" --json | jq -r '.layers[0].check'; }
wait_check() { # MNT -> the check's end state (10 s at most)
	local i c
	for i in $(seq 1 100); do
		c=$(check_of "$1")
		case "$c" in passed | failed) break ;; esac
		sleep 0.1
	done
	echo "$c"
}
publish trust/app "$W/shifted.idx" || harness_fail "publish the shifted index"
m=$(mount_as "trust/app@$MDIG" "$W/c9" unpinned=always) || harness_fail "mount, shifted"
tap_not "control: without the whole-layer check the shifted index serves wrong bytes" \
	cmp -s "$m/etc/hostname" "$W/oracle/etc/hostname"
fsd_umount "$m"
m=$(mount_as "trust/app@$MDIG" "$W/c10" unpinned=always,prefetch=all) ||
	harness_fail "mount, shifted, prefetch=all"
tap_is "$(wait_check "$m")" failed "prefetch=all: the whole-layer check fails"
tap_not "after it, reads of the layer fail" cat "$m/etc/hostname"
tap_not "... every file of it" cat "$m/bin/hello"
tap_is "$("$STRATA" stats "$m" --json | jq -r .totals.check_failures)" 1 "the failure is counted in the stats"
fsd_umount "$m"
tap_ok "the index blob the check refuted is gone from the cache" \
	test -z "$(find "$W/c10/v1/iblob" "$W/c10/v1/spans" -type f)"
m=$(mount_as "trust/app@$MDIG" "$W/c11" prefetch=all) || harness_fail "mount, genuine, prefetch=all"
tap_is "$(wait_check "$m")" passed "prefetch=all by digest: the whole-layer check passes"
check_tree "$m" "after the whole-layer check"
fsd_umount "$m"

# The index bomb: a 5 MB index declaring 10^6 directories for a 260 KiB layer.
publish trust/app "$W/bomb.idx" || harness_fail "publish the bomb"
t0=$(date +%s%N)
m=$(mount_as "trust/app:v1" "$W/c5" unpinned=always) || harness_fail "mount, bomb"
ms=$((($(date +%s%N) - t0) / 1000000))
tap_is "$(trust_of "$m")" built "bomb: refused, the index built from the layer instead"
check_tree "$m" "bomb refused"
pid=$(fsd_pid "$m")
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
tap_diag "bomb: mount in $ms ms, daemon peak RSS $rss kB"
tap_ok "bomb: the daemon's peak RSS stays under 64 MiB ($rss kB)" test "$rss" -lt 65536
fsd_umount "$m"

# Repair: the forgery is back as the only referrer; a tag mount (which
# trusts referrers by default) shows it until strata index --push --force.
publish trust/app "$W/forged.idx" || harness_fail "publish forged again"
m=$(mount_as "trust/app:v1" "$W/c6") || harness_fail "mount by tag"
tap_is "$(stat -c %a "$m/bin/hello")" 4755 "repair: before, the tag mount shows the forgery"
fsd_umount "$m"
strata_run index "$REGISTRY/trust/app:v1" --push --force --span-size 64K >/dev/null ||
	harness_fail "index --push --force"
tap_is "$(registry_curl "/v2/trust/app/manifests/sha256-${MDIG#sha256:}" \
	-H 'Accept: application/vnd.oci.image.index.v1+json' | jq '.manifests | length')" 1 \
	"repair: the fallback tag lists only the new artifact"
m=$(mount_as "trust/app:v1" "$W/c6") || harness_fail "mount after repair"
check_tree "$m" "repair: the tag mount on the same cache"
fsd_umount "$m"

# Laziness where trust allows it. A bigger third-party layer: multi's base.
fixture_push multi trust/big:v1 >/dev/null
BLAYOUT=$(fixture_build multi)
BMAN="$BLAYOUT/blobs/sha256/$(_fx_manifest "$BLAYOUT" multi)"
BLAYER=$(jq -r '.layers[0].digest' "$BMAN")
out=$(strata_run index "$REGISTRY/trust/big:v1" --push --tag pinned --span-size 64K --json) ||
	harness_fail "index --push --tag"
PINNED=$(jq -r .pinned <<<"$out")
tap_ok "index --push --tag prints a pinned reference ($PINNED)" test "${PINNED#*@sha256:}" != "$PINNED"
registry_log_mark
m=$(mount_as "${PINNED#"$REGISTRY"/}" "$W/c7") || harness_fail "mount the pinned ref"
tap_is "$(trust_of "$m" | tr ',' '\n' | sort -u | tr -d '\n')" pinned \
	"pinning index by digest: every index pinned"
cat "$m/links/target.txt" >/dev/null || harness_fail "read links/target.txt"
served=$(registry_bytes_served "$BLAYER")
size=$(jq -r '.layers[0].size' "$BMAN")
tap_diag "pinned third-party: one small file read, $served of $size layer bytes fetched"
tap_ok "pinned third-party: reading one small file fetches < 10 % of the layer" \
	test "$served" -gt 0 -a $((served * 10)) -lt "$size"
fsd_umount "$m"
tap_ok "the pinning index is an image index any client pulls" \
	skopeo inspect --tls-verify=false "docker://$REGISTRY/trust/big:pinned"

# strata push pins its own indexes: lazy by digest on a fresh cache.
mkdir -p "$W/pushed/small"
head -c $((8 << 20)) /dev/urandom >"$W/pushed/big.bin"
echo hello >"$W/pushed/small/hello.txt"
out=$(strata_run push "$W/pushed" "$REGISTRY/trust/pushed:v1" --span-size 262144 --json) ||
	harness_fail "strata push"
PD=$(jq -r .manifest <<<"$out")
PL=$(registry_curl "/v2/trust/pushed/manifests/$PD" -H 'Accept: application/vnd.oci.image.manifest.v1+json' |
	jq -r '.layers[0] | "\(.digest) \(.size) \(.annotations["dev.stratafs.index.digest"])"')
tap_ok "strata push pins the layer's index in the manifest" test "$(cut -d' ' -f3 <<<"$PL")" != null
registry_log_mark
m=$(mount_as "trust/pushed@$PD" "$W/c8") || harness_fail "mount pushed by digest"
tap_is "$(trust_of "$m")" pinned "strata push by digest: the index is pinned"
tap_is "$(cat "$m/small/hello.txt")" hello "strata push by digest: content"
served=$(registry_bytes_served "$(cut -d' ' -f1 <<<"$PL")")
tap_diag "strata push: one small file read, $served of $(cut -d' ' -f2 <<<"$PL") layer bytes fetched"
tap_ok "strata push by digest: reading one small file fetches < 10 % of the layer" \
	test "$served" -gt 0 -a $((served * 10)) -lt "$(cut -d' ' -f2 <<<"$PL")"
fsd_umount "$m"

# strata inspect says what vouches for each layer's index.
trust_in() { strata_run inspect "$1" --json | jq -r '[.layers[].stratafsIndexTrust] | unique | join(",")'; }
tap_is "$(trust_in "$REGISTRY/trust/pushed@$PD")" pinned "inspect: strata push's layer index is pinned"
tap_is "$(trust_in "$PINNED")" pinned "inspect: a pinning index pins every layer's index"
tap_is "$(trust_in "$REGISTRY/trust/big:v1")" unpinned "inspect: the same image by tag has only unpinned ones"
tap_is "$(trust_in "$REGISTRY/trust/sq:v1")" pinned "inspect: the squash's manifest pins its index"
tap_done
