#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lazy without FUSE: strata ls/cat/extract fetch only what the paths named
# need. An image of two seekable layers (strata push, its indexes pinned by
# the manifest; 1 MiB spans) with big random files and a small subtree:
# ls -R fetches no layer byte, extract of the small subtree fetches < 10 %
# of the layers' bytes and equals umoci's; the whole image equals umoci's.
# The foreign-gzip "multi" fixture, pinned with strata index --push --tag:
# ls by the pinned digest under --unpinned never fetches no layer byte.
set -euo pipefail
. "$(dirname "$0")/extract_lib.sh"
fsd_init
registry_start plain
C=(--cache "$FSD_CACHE")
T="$HARNESS_DIR/t1"
mkdir -p "$T/big" "$T/small/sub" "$HARNESS_DIR/t2/more" "$HARNESS_DIR/t2/small"
for i in 1 2 3 4 5 6; do head -c 4194304 /dev/urandom >"$T/big/r$i.bin"; done
for i in $(seq 1 50); do echo "small $i" >"$T/small/f$i.txt"; done
echo deep >"$T/small/sub/deep.txt"
for i in 1 2 3; do head -c 4194304 /dev/urandom >"$HARNESS_DIR/t2/more/m$i.bin"; done
echo "from layer 2" >"$HARNESS_DIR/t2/small/extra.txt"
strata_run push "$T" "$REGISTRY/ex/lazy:base" --span-size 1048576 "${C[@]}" >/dev/null
strata_run push "$HARNESS_DIR/t2" "$REGISTRY/ex/lazy:v1" --base "$REGISTRY/ex/lazy:base" \
	--span-size 1048576 "${C[@]}" >/dev/null
REF="$REGISTRY/ex/lazy:v1"
skopeo copy -q --src-tls-verify=false "docker://$REF" "oci:$HARNESS_DIR/oci:v1"
umoci_unpack "$HARNESS_DIR/oci:v1" "$HARNESS_DIR/ref"
WANT="$HARNESS_DIR/ref/rootfs"
mapfile -t LAYERS < <(registry_curl "/v2/ex/lazy/manifests/v1" \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' | jq -r '.layers[].digest')
TOTAL=$(registry_curl "/v2/ex/lazy/manifests/v1" \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' | jq '[.layers[].size] | add')
served() { local d s=0; for d in "${LAYERS[@]}"; do s=$((s + $(registry_bytes_served "$d"))); done; echo "$s"; }

# a fresh cache for each question: nothing is served from an earlier one
registry_log_mark
strata_run ls -R "$REF" --cache "$HARNESS_DIR/c1" >"$HARNESS_DIR/ls.txt"
tap_is "$(served)" 0 "ls -R REF (indexes pinned by the manifest): no layer byte fetched"
tap_ok "... and lists both layers' files" grep -qx 'small/extra.txt' "$HARNESS_DIR/ls.txt"

registry_log_mark
strata_run extract "$REF" "$HARNESS_DIR/sub" small --cache "$HARNESS_DIR/c2"
got=$(served)
tap_ok "extract REF DEST small: $got of $TOTAL layer bytes fetched (< 10 %)" test $((got * 10)) -lt "$TOTAL"
tap_ok "... and the subtree equals umoci's" cmp -s <(tree_dump "$WANT/small") <(tree_dump "$HARNESS_DIR/sub/small")

registry_log_mark
strata_run cat "$REF" small/sub/deep.txt --cache "$HARNESS_DIR/c3" >"$HARNESS_DIR/deep"
got=$(served)
tap_is "$(cat "$HARNESS_DIR/deep")" deep "cat REF PATH"
tap_ok "... fetched $got of $TOTAL layer bytes (< 10 %)" test $((got * 10)) -lt "$TOTAL"

registry_log_mark
strata_run extract "$REF" "$HARNESS_DIR/all" --cache "$HARNESS_DIR/c4"
got=$(served)
tap_ok "extract REF DEST of the whole image equals umoci unpack" \
	cmp -s <(tree_dump "$WANT") <(tree_dump "$HARNESS_DIR/all")
tap_ok "... fetching each layer byte at most once ($got of $TOTAL)" test "$got" -le "$TOTAL"

# again with the same cache: nothing fetched
registry_log_mark
strata_run extract "$REF" "$HARNESS_DIR/all2" --cache "$HARNESS_DIR/c4"
tap_is "$(served)" 0 "extract again through the same span cache: no layer byte fetched"

# foreign gzip layers, made lazy by a pinning index
fixture_push multi ex/multi:v1
PIN=$(strata_run index "$REGISTRY/ex/multi:v1" --push --tag pinned --json "${C[@]}" | jq -r .pinned)
tap_ok "strata index --push --tag prints a pinned reference ($PIN)" test -n "$PIN"
mapfile -t LAYERS < <(registry_curl "/v2/ex/multi/manifests/v1" \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' | jq -r '.layers[].digest')
registry_log_mark
strata_run ls -l -R "$PIN" --unpinned never --cache "$HARNESS_DIR/c5" >/dev/null
tap_is "$(served)" 0 "ls by the pinned digest with --unpinned never: indexes trusted, no layer byte"
registry_log_mark
strata_run ls -R "$REGISTRY/ex/multi@$(registry_curl /v2/ex/multi/manifests/v1 -I \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' |
	sed -nE 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: *([^\r]*)\r?$/\1/p')" \
	--cache "$HARNESS_DIR/c6" >/dev/null
tap_ok "by the image's own digest (nothing pins its indexes): layers streamed to build them" \
	test "$(served)" -gt 0
tap_done
