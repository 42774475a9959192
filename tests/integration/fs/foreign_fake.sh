#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A layer read through a foreign TOC, through fs/ end to end against a real
# registry (fs/foreign.h, docs/formats.md): the format is the fake one of
# tests/unit/fs/foreign_fake.h, which exists in tests only (its layer is
# laid out as zstd:chunked lays one out, its TOC is text); the real
# formats have tests of their own. Checks: a pinned TOC is used with no
# stratafs index anywhere and nothing streamed, one small file fetches a
# small part of the layer, the TOC is cached by its pin, virtual-offset
# spans live apart from the layer's real ones, a warm read fetches
# nothing, the whole-layer check passes for an honest TOC and fails (EIO,
# counted) for one whose entries disagree with the tar, and a TOC whose
# pin does not match is never used.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
harness_init

DRV=$BUILDDIR/tests/unit/fs/foreign_fake
[ -x "$DRV" ] || harness_fail "driver '$DRV' is not built"
W=$HARNESS_DIR/foreign
mkdir -p "$W"
registry_start plain

push() { # NAME [--lie|--bad-pin] -> sets LAYER, SIZE
	local out
	out=$("$DRV" push "$REGISTRY/$@") || harness_fail "cannot push $1"
	LAYER=$(awk '{ print $2 }' <<<"$out")
	SIZE=$(awk '{ print $3 }' <<<"$out")
}

jget() { jq -r "$2" "$1"; }

# drv_read OUT REF ARGS...: run the reader, stdout to OUT.out, stderr to OUT.err; sets RC
drv_read() {
	local out=$1
	shift
	RC=0
	"$DRV" read "$@" >"$out.out" 2>"$out.err" || RC=$?
}

# 1. An honest TOC: one small file, cold.
push ff/honest:v1
registry_log_mark
tap_ok "one small file read through the pinned TOC" \
	"$DRV" read "$REGISTRY/ff/honest:v1" --cache "$W/c1" --stats "$W/s1.json" --only small/f03
tap_is "$(jget "$W/s1.json" '.layers[0].index_source')" fake "index_source: the format"
tap_is "$(jget "$W/s1.json" '.layers[0].index_format')" fake "index_format: the format"
tap_is "$(jget "$W/s1.json" '.layers[0].index_trust')" pinned "index_trust: pinned"
tap_is "$(jget "$W/s1.json" '.totals.index_build_bytes')" 0 "nothing streamed to build an index"
bytes=$(registry_bytes_served "$LAYER")
tap_diag "one 2100-byte file of a $SIZE-byte layer: $bytes bytes fetched (TOC included)"
tap_ok "under 10 % of the layer fetched" test "$bytes" -lt $((SIZE / 10))
toc=$(jq -r '.layers[0].index_digest' "$W/s1.json")
tap_ok "the TOC is cached by its pin" test -s "$W/c1/v1/toc/${toc#sha256:}.toc"
tap_ok "virtual-offset spans are not kept under the layer's own digest" \
	test ! -e "$W/c1/v1/spans/${LAYER#sha256:}"
tap_is "$(find "$W/c1/v1/spans" -type f | wc -l)" 1 "one span file: the file's chunk"

# 2. Every file, then warm.
tap_ok "every file reads back as pushed" "$DRV" read "$REGISTRY/ff/honest:v1" --cache "$W/c1"
registry_log_mark
tap_ok "warm: every file again" "$DRV" read "$REGISTRY/ff/honest:v1" --cache "$W/c1" \
	--stats "$W/s2.json"
tap_is "$(registry_blob_gets "$LAYER")" 0 "warm: no layer GET (TOC and spans from the cache)"

# 3. The whole-layer check of an honest TOC.
drv_read "$W/r3" "$REGISTRY/ff/honest:v1" --cache "$W/c3" --prefetch-all --stats "$W/s3.json"
tap_is "$RC" 0 "prefetch all, wait for the check"
tap_ok "check passed" grep -qx 'check passed' "$W/r3.out"
tap_ok "reads after it still served" grep -qx 'after-check read ok' "$W/r3.out"
tap_is "$(jget "$W/s3.json" '.totals.check_failures')" 0 "no check failure counted"

# 4. A TOC that disagrees with its tar (a mode): served until the check, then EIO.
push ff/lie:v1 --lie
# (The prefetch starts at open and the check may end before the first read: only the
# tree, built before any read, is asserted to come from the TOC.)
drv_read "$W/r4" "$REGISTRY/ff/lie:v1" --cache "$W/c4" --prefetch-all --stats "$W/s4.json" \
	--only etc/hostname
tap_ok "the tree comes from the lying TOC (its mode)" grep -qx 'mode etc/hostname 0600' "$W/r4.out"
tap_ok "the check fails" grep -qx 'check failed' "$W/r4.out"
tap_ok "reads after it fail with EIO" grep -qx 'after-check read EIO' "$W/r4.out"
tap_ok "the log names the entry and what differs" \
	grep -q "disagree on 'etc/hostname': mode" "$W/r4.err"
tap_is "$(jget "$W/s4.json" '.totals.check_failures')" 1 "the failure is counted"
tap_is "$(jget "$W/s4.json" '.layers[0].check')" failed "the layer shows check failed"
tap_ok "the lying TOC is gone from the cache" \
	test -z "$(find "$W/c4/v1/toc" -type f)"

# 5. A pin that names other bytes than the TOC: the TOC is never used.
push ff/badpin:v1 --bad-pin
drv_read "$W/r5" "$REGISTRY/ff/badpin:v1" --cache "$W/c5" --stats "$W/s5.json"
tap_is "$RC" 0 "a mismatched pin: every file still reads"
tap_is "$(jget "$W/s5.json" '.layers[0].index_source')" built "... from an index built here"
tap_ok "... and says why" grep -q 'does not hash to its pin' "$W/r5.err"
tap_is "$(find "$W/c5/v1/toc" -type f | wc -l)" 0 "nothing cached under the pin"

# 6. A pinned stratafs index and a pinned TOC: the cheaper to read is kept (here the
# TOC's chunks, against one span for the whole layer).
out=$(strata_run index "$REGISTRY/ff/honest:v1" --push --tag pinned --json) ||
	harness_fail "strata index --push --tag"
PINNED=$(jq -r .pinned <<<"$out")
drv_read "$W/r6" "$PINNED" --cache "$W/c6" --stats "$W/s6.json" --only small/f03
tap_is "$RC" 0 "the pinning index's reference reads"
tap_is "$(jget "$W/s6.json" '.layers[0].index_format')" fake "the TOC is kept over the pinned stratafs index"
tap_ok "index_choice gives both costs" \
	jq -e '.layers[0].index_choice | test("^fake: [0-9]+ compressed bytes per span, stratafs: [0-9]+$")' \
	"$W/s6.json"
tap_diag "index_choice: $(jget "$W/s6.json" '.layers[0].index_choice')"

# 7. strata inspect's per-layer summary (the fake format is not built into strata).
tap_is "$(strata_run inspect "$PINNED" --json | jq -r '.layers[0].index')" "stratafs pinned" \
	"inspect: stratafs pinned through the pinning index"
tap_is "$(strata_run inspect "$REGISTRY/ff/honest:v1" --json | jq -r '.layers[0].index')" \
	"stratafs unpinned" "inspect: stratafs unpinned by tag (a referrer)"
tap_is "$(strata_run inspect "$REGISTRY/ff/lie:v1" --json | jq -r '.layers[0] | "\(.index) \(.foreignIndex)"')" \
	"none null" "inspect: none, and no foreign TOC strata knows of"

tap_done
