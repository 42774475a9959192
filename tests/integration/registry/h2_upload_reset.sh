#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Uploads over HTTP/2 meet a stream reset (RST_STREAM) mid-body and a busy
# registry (503 + Retry-After): the transport maps the reset to a dropped
# connection, the retry driver starts the upload over in a new session, and
# waits as long as Retry-After asks (h2_upload_standin.py plays the registry,
# TLS with ALPN h2, our test CA).
set -euo pipefail
. "$SRCDIR/tests/harness/lib.sh"
harness_init
harness_ca
DRIVER=${DRIVER:-$BUILDDIR/tests/unit/registry/blob_upload_run}
/usr/bin/python3 -c 'import h2' 2>/dev/null || harness_fail "python3-h2 is missing (scripts/install-deps.sh)"

# standin NAME ARGS...: start the HTTP/2 stand-in; sets H2_<NAME>_HOST and H2_<NAME>_LOG
standin() {
	local name=$1 dir
	shift
	dir=$HARNESS_DIR/h2-$name
	mkdir -p "$dir"
	/usr/bin/python3 "$SRCDIR/tests/integration/registry/h2_upload_standin.py" \
		--cert "$HARNESS_CA_DIR/server.crt" --key "$HARNESS_CA_DIR/server.key" \
		--port-file "$dir/port" --log "$dir/log" "$@" >"$dir/out" 2>&1 &
	HARNESS_PIDS="$HARNESS_PIDS $!"
	wait_port_file "$dir/port" "$dir/out" "HTTP/2 stand-in '$name'"
	eval "H2_${name}_HOST=127.0.0.1:$(cat "$dir/port")"
	eval "H2_${name}_LOG=$dir/log"
}
count() { # LOG METHOD STATUS
	jq -c "select(.method == \"$2\" and .status == $3)" "$1" | wc -l
}
OUT=$HARNESS_DIR/driver.out
ERR=$HARNESS_DIR/driver.err
run() {
	"$DRIVER" -d --ca "$REGISTRY_CA" "$@" >"$OUT" 2>"$ERR"
}

head -c $((3 << 20)) /dev/urandom >"$HARNESS_DIR/blob" # a monolithic PUT (< 32 MiB)
head -c $((40 << 20)) /dev/urandom >"$HARNESS_DIR/big"  # one streamed PATCH + PUT

# 1. a PUT body reset after 64 KiB
standin put --resets 1 --reset-after 65536
tap_ok "an upload whose stream is reset mid-body completes" run "$H2_put_HOST/demo/h2" "$HARNESS_DIR/blob"
tap_ok "it went over HTTP/2" grep -q 'using HTTP/2\|ALPN.*h2' "$ERR"
tap_is "$(count "$H2_put_LOG" PUT '"reset"')" 1 "the first PUT was reset"
tap_is "$(count "$H2_put_LOG" DELETE 204)" 1 "its session was cancelled"
tap_is "$(count "$H2_put_LOG" POST 202),$(count "$H2_put_LOG" PUT 201)" "2,1" \
	"a new session took the whole body, the digest checked"
tap_ok "one retry counted" grep -q 'retries=1$' "$OUT"
tap_ok "the retry was logged" grep -q 'retrying blob .* (' "$ERR"

# 2. the streamed PATCH of a big blob reset
standin patch --resets 1 --reset-after $((1 << 20))
tap_ok "a streamed PATCH reset mid-body completes" run "$H2_patch_HOST/demo/h2" "$HARNESS_DIR/big"
tap_is "$(count "$H2_patch_LOG" PATCH '"reset"'),$(count "$H2_patch_LOG" PATCH 202),$(count "$H2_patch_LOG" PUT 201)" \
	"1,1,1" "reset once, then PATCH and PUT"

# 3. without retries the reset is the error: a dropped connection, not a server answer
standin once --resets 1 --reset-after 65536
tap_not "with --retries 0 the reset fails the upload" run --retries 0 "$H2_once_HOST/demo/h2" "$HARNESS_DIR/blob"
tap_ok "as an I/O failure the caller sees (ECONNRESET inside)" grep -q 'error:' "$OUT"

# 4. a busy registry: 503 with Retry-After: 2 on the session POST
standin busy --resets 0 --busy 1 --retry-after 2
start=$(date +%s%N)
tap_ok "an upload told to come back in 2 s completes" run "$H2_busy_HOST/demo/h2" "$HARNESS_DIR/blob"
elapsed=$((($(date +%s%N) - start) / 1000000))
tap_ok "after waiting the 2 s asked for (${elapsed} ms; the backoff alone is 100 ms)" \
	test "$elapsed" -ge 2000
tap_is "$(count "$H2_busy_LOG" POST 503),$(count "$H2_busy_LOG" PUT 201)" "1,1" "503 once, then stored"
tap_ok "the wait was logged" grep -q 'retrying blob .* in 2000 ms (HTTP 503)' "$ERR"
tap_ok "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error:' '$ERR'"
tap_done
