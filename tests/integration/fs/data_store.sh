#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The data path of the daemon (fs/store.h) against a real registry, through
# the store_read driver: lazy fetching measured in the registry's access
# log, warm cache, the registry's index artifact, 16 concurrent readers
# with prefetch_all, kill -9 in the middle of reads, a damaged cache file.
set -euo pipefail
. "$(dirname "$0")/data_lib.sh"
data_init

C1=$W/cache1
SMALL=small/f7.bin

# 1. Index build: the layer is streamed exactly once, no span is fetched.
registry_log_mark
tap_ok "first open builds the index" drv --cache "$C1" --stats "$W/s1.json" "$REF"
tap_is "$(json_get "$W/s1.json" '.layers[0].index_source')" built "index source is 'built'"
size=$(jq -r '.layers[0].size' "$W/oci/blobs/sha256/${MANIFEST#sha256:}")
# Before streaming an unindexed gzip layer, the unpinned policy lets the
# store ask for its last 51 bytes: a legacy stargz footer would make the
# stream unnecessary (docs/formats.md, "eStargz").
tap_is "$(registry_bytes_served "$LAYER")" "$((size + 51))" \
	"the build read the layer once ($size bytes) after a 51-byte stargz footer probe"
tap_ok "index saved in the local cache" test -s "$C1/v1/built/${LAYER#sha256:}.idx"

# 2. One small file, index cached, no span cached: only its span is fetched.
registry_log_mark
tap_ok "read one small file" drv --cache "$C1" --stats "$W/s2.json" "$REF" "$SMALL=$(sha "$SMALL")"
tap_is "$(json_get "$W/s2.json" '.layers[0].index_source')" cache "index source is 'cache'"
bytes=$(registry_bytes_served "$LAYER")
gets=$(registry_blob_gets "$LAYER")
tap_diag "one ${SMALL##*/} ($(stat -c %s "$TREE/$SMALL") bytes) of a $size-byte layer: $gets GET, $bytes bytes"
if [ "$bytes" -gt 0 ] && [ "$bytes" -le $((2 * SPAN)) ] && [ "$gets" = 1 ]; then
	tap_pass "small file: one Range request of at most 2 spans"
else
	tap_fail "small file: one Range request of at most 2 spans" "$gets GETs, $bytes bytes"
fi

# 3. Warm: nothing fetched.
registry_log_mark
tap_ok "warm read" drv --cache "$C1" --stats "$W/s3.json" "$REF" "$SMALL=$(sha "$SMALL")"
tap_is "$(registry_blob_gets "$LAYER")" 0 "warm cache: no layer GET"
tap_is "$(json_get "$W/s3.json" '.totals.cache_misses')" 0 "warm cache: no miss"
tap_is "$(json_get "$W/s3.json" '.totals.bytes_fetched')" 0 "warm cache: 0 bytes fetched"

# 4. A large file, sequentially: correct, and adjacent spans merged into few requests.
registry_log_mark
tap_ok "read a 20 MiB file" drv --cache "$C1" --stats "$W/s4.json" "$REF" "big/rand.bin=$(sha big/rand.bin)"
gets=$(registry_blob_gets "$LAYER")
tap_diag "20 MiB cold: $gets GETs, $(registry_bytes_served "$LAYER") bytes," \
	"fetch latency p50/p90/p99 $(jq -r '.fetch_latency_ms | "\(.p50)/\(.p90)/\(.p99)"' "$W/s4.json") ms"
if [ "$gets" -ge 1 ] && [ "$gets" -le 10 ]; then
	tap_pass "adjacent spans merged ($gets requests for 20+ spans)"
else
	tap_fail "adjacent spans merged" "$gets requests"
fi
tap_is "$(registry_requests GET '/blobs/' | tr -d ' ')" "$gets" "no other blob GET"

# 5. The registry's index artifact (fallback tag: distribution 2.8 has no referrers API).
idxblob=$W/index.idx
cp "$C1/v1/built/${LAYER#sha256:}.idx" "$idxblob"
printf '{}' >"$W/empty.json"
msize=$(stat -c %s "$W/oci/blobs/sha256/${MANIFEST#sha256:}")
registry_push_blob data/img "$idxblob" >/dev/null
registry_push_blob data/img "$W/empty.json" >/dev/null
jq -cn --arg l "$LAYER" --arg d "sha256:$(sha256sum "$idxblob" | cut -d' ' -f1)" \
	--argjson s "$(stat -c %s "$idxblob")" --arg m "$MANIFEST" --argjson ms "$msize" '
	{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	 artifactType: "application/vnd.stratafs.index.v1",
	 config: {mediaType: "application/vnd.oci.empty.v1+json", size: 2,
	          digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
	 layers: [{mediaType: "application/vnd.stratafs.index.v1+zstd", digest: $d, size: $s,
	           annotations: {"dev.stratafs.layer.digest": $l}}],
	 subject: {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms}}' \
	>"$W/artifact.json"
adigest=sha256:$(sha256sum "$W/artifact.json" | cut -d' ' -f1)
registry_push_manifest data/img "$adigest" "$W/artifact.json" application/vnd.oci.image.manifest.v1+json >/dev/null
jq -cn --arg d "$adigest" --argjson s "$(stat -c %s "$W/artifact.json")" '
	{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	 manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s,
	              artifactType: "application/vnd.stratafs.index.v1"}]}' >"$W/referrers.json"
tap_ok "index artifact pushed under the fallback tag" registry_push_manifest data/img \
	"sha256-${MANIFEST#sha256:}" "$W/referrers.json" application/vnd.oci.image.index.v1+json
registry_log_mark
tap_ok "fresh cache: read one small file" drv --cache "$W/cache2" --stats "$W/s5.json" "$REF" \
	"$SMALL=$(sha "$SMALL")"
tap_is "$(json_get "$W/s5.json" '.layers[0].index_source')" registry "index source is 'registry'"
bytes=$(registry_bytes_served "$LAYER")
tap_diag "fresh cache with the registry index: $bytes layer bytes"
if [ "$bytes" -le $((2 * SPAN)) ]; then
	tap_pass "no layer build: at most 2 spans of layer bytes"
else
	tap_fail "no layer build: at most 2 spans of layer bytes" "$bytes bytes"
fi

# 6. 16 threads of random ranges while prefetch_all fetches everything.
tap_ok "16 threads x 300 random reads with prefetch_all match the tree" \
	drv --cache "$W/cache3" --threads 16 --random 300 --root "$TREE" --prefetch-all \
	--fetch-threads 4 --stats "$W/s6.json" "$REF"
tap_ok "and again on the warm cache" drv --cache "$W/cache3" --threads 16 --random 300 \
	--root "$TREE" --prefetch-all "$REF"

# 7. kill -9 in the middle of reads, then everything is still right.
for round in 1 2 3; do
	drv --cache "$W/cache4" --threads 8 --random 1000000 --root "$TREE" --prefetch-all \
		--fetch-threads 8 "$REF" >"$W/killed.out" 2>&1 &
	pid=$!
	sleep "0.$((round * 3))"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
done
tap_ok "after kill -9: random reads match" drv --cache "$W/cache4" --threads 8 --random 300 \
	--root "$TREE" "$REF"
tap_ok "after kill -9: whole files match" drv --cache "$W/cache4" "$REF" \
	"big/rand.bin=$(sha big/rand.bin)" "big/text.txt=$(sha big/text.txt)" "$SMALL=$(sha "$SMALL")"
visible=$(find "$W/cache4/v1/spans" "$W/cache4/v1/built" -type f | wc -l)
tap_diag "after kill -9: $visible cache files, $(find "$W/cache4/v1/tmp" -type f | wc -l) tmp left"

# 8. A damaged span file is detected, discarded and fetched again.
f=$(find "$C1/v1/spans" -type f -size +100k -print -quit) # no pipe: SIGPIPE under pipefail
printf 'X' | dd of="$f" bs=1 seek=70000 conv=notrunc status=none
tap_ok "damaged cache: whole file still right" sh -c \
	"'$DRV' --insecure --span-size $SPAN --cache '$C1' '$REF' 'big/rand.bin=$(sha big/rand.bin)' 'big/text.txt=$(sha big/text.txt)' 2>'$W/damaged.err'"
tap_ok "damage was logged" grep -q "discarding cached span" "$W/damaged.err"

# 9. A bounded cache: reading 20 MiB through a 4 MiB cache stays under the bound.
tap_ok "4 MiB cache: a 20 MiB file reads right" drv --cache "$W/cache5" --cache-max 4194304 \
	"$REF" "big/rand.bin=$(sha big/rand.bin)" "big/text.txt=$(sha big/text.txt)"
used=$(find "$W/cache5/v1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
tap_diag "bounded cache holds $used bytes"
if [ "$used" -le 4194304 ] && [ "$used" -gt 0 ]; then
	tap_pass "cache under its 4 MiB bound"
else
	tap_fail "cache under its 4 MiB bound" "$used bytes"
fi

tap_done
