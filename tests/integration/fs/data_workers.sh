#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fetch workers never wait for memory that only a queued job can give
# back. A forward pass over a single-frame zstd layer hands each decoded
# span to a verify-and-cache job; the span's memory stays counted until
# that job runs. With 2 workers, both waiting for room (the pass's next
# span, a gzip layer's fetch), nobody ran those jobs: every read timed out
# for good (2 of 3 runs hung before fs_mem_buf_get() ran them itself).
# The store_read driver, 4 threads of random reads over a 32 MiB
# single-frame zstd layer and a 32 MiB gzip layer, default mem_max; 4 runs,
# each on an empty cache, must each end in time with every read right.
. "$(dirname "$0")/data_lib.sh"
. "$(dirname "$0")/zstd_lib.sh"
harness_init
registry_start plain
DRV=$BUILDDIR/tests/unit/fs/store_read
[ -x "$DRV" ] || harness_fail "driver '$DRV' is not built"
W=$HARNESS_DIR/w
mkdir -p "$W/all" "$W/d1" "$W/d2"
_fx_rand workers-z 33554432 >"$W/d1/z.bin"
_fx_rand workers-g 33554432 >"$W/d2/g.bin"
cp "$W/d1/z.bin" "$W/d2/g.bin" "$W/all/"
tar -C "$W/d1" --format=pax -cf "$W/0.tar" . && zstd -q -T1 -3 -c "$W/0.tar" >"$W/0.tar.zst" ||
	harness_fail "zstd layer"
tar -C "$W/d2" --format=pax -cf "$W/1.tar" . && gzip -1 -c "$W/1.tar" >"$W/1.tar.gz" || harness_fail "gzip layer"
tap_is "$(zstd_frames "$W/0.tar.zst")" 1 "the zstd layer is one frame"
sha() { echo "sha256:$(sha256sum <"$1" | cut -d' ' -f1)"; }
for f in 0.tar.zst 1.tar.gz; do registry_push_blob fs/mix "$W/$f" >/dev/null || harness_fail "push $f"; done
jq -nc --arg a "$(sha "$W/0.tar")" --arg b "$(sha "$W/1.tar")" \
	'{architecture: "amd64", os: "linux", rootfs: {type: "layers", diff_ids: [$a, $b]}, config: {}}' \
	>"$W/cfg.json"
registry_push_blob fs/mix "$W/cfg.json" >/dev/null || harness_fail "push the config"
jq -nc --arg cd "$(sha "$W/cfg.json")" --argjson cs "$(stat -c %s "$W/cfg.json")" \
	--arg d0 "$(sha "$W/0.tar.zst")" --argjson s0 "$(stat -c %s "$W/0.tar.zst")" \
	--arg d1 "$(sha "$W/1.tar.gz")" --argjson s1 "$(stat -c %s "$W/1.tar.gz")" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
	  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+zstd", digest: $d0, size: $s0},
	           {mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d1, size: $s1}]}' \
	>"$W/man.json"
registry_push_manifest fs/mix v1 "$W/man.json" application/vnd.oci.image.manifest.v1+json >/dev/null ||
	harness_fail "push the manifest"
strata_run index "$REGISTRY/fs/mix:v1" --push >/dev/null || harness_fail "index: $(cat "$STRATA_ERR")"
for run in 1 2 3 4; do
	rm -rf "$W/c"
	mkdir -p "$W/c"
	tap_timed timeout 60 "$DRV" --insecure --cache "$W/c" --fetch-threads 2 --threads 4 --random 40 \
		--root "$W/all" --timeout 20000 --stats /dev/null "$REGISTRY/fs/mix:v1"
	if [ "$TAP_RC" = 0 ] && ! grep -q 'timed out' "$TAP_OUT"; then
		tap_pass "run $run: 4 threads x 40 random reads on 2 workers, every read right (${TAP_SECS}s)"
	else
		tap_fail "run $run: 4 threads x 40 random reads on 2 workers" \
			"exit $TAP_RC in ${TAP_SECS}s, $(grep -c 'timed out' "$TAP_OUT") timeouts"
		break
	fi
done

# Span files a pass wrote unhashed that cannot be marked hashed after their
# check (a read-only or full cache; here a read-only bind mount of it): the
# reader must not check them again and again (it spun at 100 % CPU for
# ever), but fetch.
rm -rf "$W/c" && mkdir -p "$W/c"
size=$(stat -c %s "$W/all/z.bin")
"$DRV" --insecure --cache "$W/c" --stats /dev/null "$REGISTRY/fs/mix:v1" \
	"z.bin:$((size - 1000)):1000=$(tail -c 1000 "$W/all/z.bin" | sha256sum | cut -d' ' -f1)" \
	>"$W/tail.out" 2>&1 || harness_fail "reading the tail: $(tail -3 "$W/tail.out")"
n=$(find "$W/c/v1/spans" -type f | wc -l)
mkdir -p "$W/cro"
harness_on_exit "umount '$W/cro' 2>/dev/null"
tap_ok "the pass left span files ($n); the cache is bound read-only" sh -c \
	"[ $n -ge 2 ] && mount --bind '$W/c' '$W/cro' && mount -o remount,ro,bind '$W/cro'"
want=$(sha256sum <"$W/all/z.bin" | cut -d' ' -f1)
tap_timed timeout 60 "$DRV" --insecure --cache "$W/cro" --timeout 20000 --stats /dev/null \
	"$REGISTRY/fs/mix:v1" "z.bin=$want"
tap_ok "reading the whole file over them ends, right, in ${TAP_SECS}s (exit $TAP_RC)" test "$TAP_RC" = 0
umount "$W/cro"

# A forward pass's ranged GET answered by a well-formed 206 shorter than
# asked: the decoder must not go on past a gap in the stream (it would
# decode garbage) but fail the pass, saying so; the next read succeeds.
proxy_start
dd if="$W/0.tar.zst" of="$W/short" bs=65536 count=1 status=none
proxy_mode "replace file=$W/short method=GET path=/blobs/$(sha "$W/0.tar.zst") times=1"
rm -rf "$W/c" && mkdir -p "$W/c"
want=$(sha256sum <"$W/all/z.bin" | cut -d' ' -f1)
"$DRV" --insecure --cache "$W/c" --timeout 20000 --stats /dev/null "$PROXY/fs/mix:v1" "z.bin=$want" \
	>"$W/short.out" 2>&1 || true
tap_ok "a short 206 to a pass's GET is an error that says so" \
	grep -q "the registry sent 65536 of the .* bytes asked for from offset 0" "$W/short.out"
tap_is "$(proxy_hits 0)" 1 "... (the short answer was served)"
tap_ok "... and the next read, on the same cache, is right" \
	"$DRV" --insecure --cache "$W/c" --timeout 20000 --stats /dev/null "$PROXY/fs/mix:v1" "z.bin=$want"
tap_done
