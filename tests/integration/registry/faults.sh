#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Network faults between strata and a real registry (fault_proxy.py in
# front of a plain one): dropped and reset connections, stalls past
# --timeout, 429 + Retry-After, 503, a 200 answer to a Range request,
# flipped bytes. Each case must end in the right bytes, or in a clear error
# with exit 1, within a bounded time; never in wrong bytes with exit 0.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
harness_init

registry_start plain
fixture_push multi f/multi:latest
fixture_push single f/single:latest
proxy_start
REF=$PROXY/f/multi:latest
PULL=$HARNESS_DIR/pull
skopeo_pull f/multi:latest "$PULL"
BIG=$(skopeo_raw f/multi:latest | jq -r '.layers[0].digest')
CFG=$(skopeo_raw f/multi:latest | jq -r '.config.digest')
WANT_INSPECT=$(expect_inspect f/multi:latest)
OUT=$HARNESS_DIR/fault.out
OPTS=(--timeout 2 --retries 2)

# outcome EXPECT CHECK: classify the last tap_timed run of strata.
#   EXPECT ok: exit 0 and CHECK passes; fail: exit 1 (and no crash);
#   either: exit 0 with CHECK passing, or exit 1
outcome() {
	local expect=$1 check=$2
	if strata_crashed "$TAP_RC" 2>/dev/null || grep -qE 'Sanitizer|runtime error:' "$TAP_OUT"; then
		echo "crashed (exit $TAP_RC)"
		return 1
	fi
	case "$expect:$TAP_RC" in
	ok:0 | either:0)
		$check || {
			echo "exit 0 but WRONG output"
			return 1
		}
		;;
	fail:1 | either:1) ;;
	*)
		echo "exit $TAP_RC, want $expect"
		tail -5 "$TAP_OUT"
		return 1
		;;
	esac
}

_inspect_to_out() { strata_run inspect "$REF" --json "${OPTS[@]}" >"$OUT"; }
blob_right() { cmp -s "$OUT" "$PULL/${BIG#sha256:}"; }
inspect_right() { [ "$(inspect_subset <"$OUT" 2>/dev/null)" = "$WANT_INSPECT" ]; }

# fault_blob DESC EXPECT MAX_SECS [MIN_SECS] -- RULE...: strata blob BIG through the proxy
fault_blob() {
	local desc=$1 expect=$2 max=$3 min=0
	shift 3
	if [ "$1" != -- ]; then
		min=$1
		shift
	fi
	shift
	proxy_mode "$@"
	rm -f "$OUT"
	tap_timed strata_run blob "$REF" "$BIG" -o "$OUT" "${OPTS[@]}"
	_fault_report "$desc" "$expect" "$max" "$min" blob_right
}

_fault_report() { # DESC EXPECT MAX MIN CHECK
	local why
	if ! why=$(outcome "$2" "$5"); then
		tap_fail "$1: $2 within ${3}s" "took ${TAP_SECS}s, $why"
	elif ! tap_lt "$TAP_SECS" "$3"; then
		tap_fail "$1: $2 within ${3}s" "took ${TAP_SECS}s (exit $TAP_RC): too long"
	elif tap_lt "$TAP_SECS" "$4"; then
		tap_fail "$1: $2 within ${3}s" "took only ${TAP_SECS}s (exit $TAP_RC): expected >= ${4}s"
	else
		tap_pass "$1: $2 within ${3}s (exit $TAP_RC in ${TAP_SECS}s)"
	fi
}

# fault_inspect DESC EXPECT MAX_SECS [MIN_SECS] -- RULE...: strata inspect --json
fault_inspect() {
	local desc=$1 expect=$2 max=$3 min=0
	shift 3
	if [ "$1" != -- ]; then
		min=$1
		shift
	fi
	shift
	proxy_mode "$@"
	rm -f "$OUT"
	tap_timed _inspect_to_out
	_fault_report "$desc" "$expect" "$max" "$min" inspect_right
}

# sanity: through the proxy, no faults
fault_blob "pass-through: blob" ok 15 -- 
fault_inspect "pass-through: inspect" ok 15 --

# dropped / reset connections
fault_blob "drop mid-body once (after 100000 bytes)" ok 20 -- "drop after=100000 path=/blobs/$BIG times=1"
# (each answer, ranged ones too, is cut after 100000 bytes: a client that
# resumes with Range makes progress and may finish)
fault_blob "drop mid-body always (after 100000 bytes of every answer)" either 30 -- "drop after=100000 path=/blobs/$BIG"
fault_blob "drop right after the headers once" ok 20 -- "drop after=0 path=/blobs/$BIG times=1"
fault_blob "drop right after the headers always (no progress possible)" fail 20 -- "drop after=0 path=/blobs/$BIG"
fault_inspect "reset (no answer) on the manifest once" ok 20 -- "reset path=/manifests/ times=1"
fault_inspect "drop mid-manifest once" ok 20 -- "drop after=50 path=/manifests/ times=1"

# stalls against --timeout 2. (--timeout bounds a request with its retries;
# a stream that makes progress gets a new budget, so a stall mid-body after
# 1 MB may be survived by resuming.)
fault_blob "stall 20 s before the headers, always (--timeout 2 --retries 2)" fail 12 -- "delay secs=20 path=/blobs/$BIG"
fault_blob "stall 20 s before the headers, once" either 12 -- "delay secs=20 path=/blobs/$BIG times=1"
fault_blob "stall 20 s mid-body after 1 MB, always" either 20 -- "delay secs=20 where=body after=1000000 path=/blobs/$BIG"
fault_blob "stall 20 s mid-body after 1 MB, once" either 20 -- "delay secs=20 where=body after=1000000 path=/blobs/$BIG times=1"
fault_inspect "stall 20 s on the manifest, always" fail 12 -- "delay secs=20 path=/manifests/"
fault_inspect "stall 20 s on the config blob, always" fail 12 -- "delay secs=20 path=/blobs/$CFG"

# 429 + Retry-After, 503. The waits count against --timeout (it bounds a
# request with its retries), so give them room.
OPTS=(--timeout 10 --retries 2)
fault_inspect "429 Retry-After: 1 twice on the manifest, then OK (Retry-After honoured)" ok 15 1.8 -- \
	"status code=429 retry_after=1 path=/manifests/ times=2"
fault_blob "429 Retry-After: 1 twice on the blob, then OK" ok 15 1.8 -- \
	"status code=429 retry_after=1 path=/blobs/$BIG times=2"
fault_blob "429 always (Retry-After: 1)" fail 20 -- "status code=429 retry_after=1 path=/blobs/$BIG"
tap_ok "429 always: the error says so" grep -qiE '429|too ?many' "$TAP_OUT"
fault_blob "429 always with Retry-After: 3600 does not sleep an hour" fail 40 -- \
	"status code=429 retry_after=3600 path=/blobs/$BIG"
fault_blob "503 twice, then OK" ok 15 -- "status code=503 path=/blobs/$BIG times=2"
tap_is "$(proxy_hits 0)" 2 "503 twice: both 503s were seen by the client's retries"
fault_blob "503 always" fail 20 -- "status code=503 path=/blobs/$BIG"
tap_ok "503 always: the error says so" grep -qiE '503|unavailable' "$TAP_OUT"
fault_inspect "503 on the config blob twice" ok 15 -- "status code=503 path=/blobs/$CFG times=2"

OPTS=(--timeout 2 --retries 2)

# a Range request answered with 200 and the whole blob
proxy_mode "norange path=/blobs/"
size=$(stat -c %s "$PULL/${BIG#sha256:}")
bad=""
for r in 0-99 1000-1999 700000-765535 $((size - 10))-$((size - 1)) 123457-1234567; do
	a=${r%-*}
	b=${r#*-}
	rc=0
	strata_run blob "$REF" "$BIG" --range "$r" "${OPTS[@]}" >"$OUT" 2>/dev/null || rc=$?
	if [ "$rc" != 0 ]; then
		bad="$bad $r(exit $rc)"
	elif ! cmp -s "$OUT" <(dd if="$PULL/${BIG#sha256:}" iflag=skip_bytes,count_bytes skip="$a" count="$((b - a + 1))" bs=65536 status=none); then
		bad="$bad $r(wrong bytes)"
	fi
done
if [ -z "$bad" ]; then
	tap_pass "200 instead of 206: 5 ranges still give the right bytes"
else
	tap_fail "200 instead of 206: 5 ranges still give the right bytes" "bad:$bad"
fi
fault_blob "200 instead of 206: whole blob" ok 15 -- "norange path=/blobs/"

# range_case DESC RULE: strata blob --range 1000-100999 through RULE must
# exit 0 with exactly those bytes
range_case() {
	local rc=0
	proxy_mode "$2"
	strata_run blob "$REF" "$BIG" --range 1000-100999 "${OPTS[@]}" >"$OUT" 2>"$OUT.err" || rc=$?
	tap_is "$rc" 0 "$1: exit 0"
	tap_ok "$1: the right bytes" cmp -s "$OUT" \
		<(dd if="$PULL/${BIG#sha256:}" iflag=skip_bytes,count_bytes skip=1000 count=100000 bs=65536 status=none)
}
# a 206 longer than asked, cut after the bytes asked for: the read is
# complete, so nothing is asked again (a resume from there would ask for
# "the rest of the blob", bytes=END-)
range_case "206 longer than asked, cut after the asked bytes" "widen by=65536 method=GET path=/blobs/$BIG"
tap_is "$(proxy_hits 0)" 1 "206 longer than asked, cut after the asked bytes: one request, none to resume"
# a 206 shorter than asked (a well-formed answer: Content-Length fits the
# body) is not the end of the blob: strata blob --range asks for the rest
dd if="$PULL/${BIG#sha256:}" of="$HARNESS_DIR/short.bin" iflag=skip_bytes,count_bytes skip=1000 count=5000 status=none
range_case "206 shorter than asked" "replace file=$HARNESS_DIR/short.bin method=GET path=/blobs/$BIG times=1"
# an empty 206 is no answer: a clear error, never a copy cut short with exit 0
: >"$HARNESS_DIR/empty.bin"
proxy_mode "replace file=$HARNESS_DIR/empty.bin method=GET path=/blobs/$BIG times=1"
rc=0
strata_run blob "$REF" "$BIG" --range 1000-100999 "${OPTS[@]}" >"$OUT" || rc=$?
tap_is "$rc" 1 "an empty 206: exit 1"
tap_ok "... saying the registry sent nothing there" grep -q "sent no byte at offset 1000 of blob" "$STRATA_ERR"

# flipped bytes
fault_blob "one byte flipped in the blob, always" fail 20 -- "flip path=/blobs/$BIG"
tap_ok "flipped blob: the error names a digest problem" grep -qiE 'digest|mismatch|corrupt|verif' "$TAP_OUT"
tap_ok "flipped blob: no -o file is left with the corrupt bytes" \
	bash -c "[ ! -e '$OUT' ] || ! cmp -s '$OUT' <(curl -s '$PROXY_URL/v2/f/multi/blobs/$BIG')"
fault_blob "one byte flipped in the blob, once" either 20 -- "flip path=/blobs/$BIG times=1"
fault_inspect "one byte flipped in the manifest (by tag), always" fail 20 -- "flip path=/manifests/"
fault_inspect "one byte flipped in the config blob, always" fail 20 -- "flip path=/blobs/$CFG"
d=$(skopeo_raw f/multi:latest | sha256sum | cut -d' ' -f1)
proxy_mode "flip path=/manifests/"
tap_timed strata_run inspect "$PROXY/f/multi@sha256:$d" --json "${OPTS[@]}"
tap_ok "one byte flipped in the manifest (by digest): exit 1 in ${TAP_SECS}s" \
	bash -c "[ $TAP_RC = 1 ] && awk 'BEGIN{exit !($TAP_SECS < 20)}'"

proxy_mode
tap_done
