#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata push through the fault proxy: a transient 503 or reset is
# survived (the upload starts over in a new session), a registry that
# keeps failing makes the push exit 1 with the tag unchanged (absent, or
# still the previous good image); a blob over 32 MiB goes up as one
# streamed PATCH + PUT.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
harness_init
registry_start plain
proxy_start

tree() { # DIR SEED SIZE
	mkdir -p "$1/d"
	echo "$2" >"$1/d/seed"
	head -c "$3" /dev/urandom >"$1/d/data"
}
digest_of() { # TAG -> manifest digest in the registry ("" when absent)
	skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/$1" 2>/dev/null |
		sha256sum | sed 's/ .*//; s/^/sha256:/' | grep -v e3b0c44298fc1c149afbf4c8996fb924 || true
}
push() { # DIR TAG [opts]: exit code in RC
	local d=$1 t=$2
	shift 2
	RC=0
	strata_run push "$d" "$PROXY/$t" --retries 1 "$@" >"$HARNESS_DIR/out.json" 2>/dev/null || RC=$?
}

tree "$HARNESS_DIR/a" a 3000000
push "$HARNESS_DIR/a" f:1 --json
tap_is "$RC" 0 "push through the proxy"
GOOD=$(jq -r .manifest "$HARNESS_DIR/out.json")
tap_is "$(digest_of f:1)" "$GOOD" "f:1 is there"

# transient failures: a new session, the push succeeds
tree "$HARNESS_DIR/b" b 3000000
proxy_mode "status code=503 method=PUT path=/blobs/uploads/ times=1" "pass"
push "$HARNESS_DIR/b" f:2
tap_is "$RC" 0 "a 503 on the blob PUT is survived"
tap_ok "the failed session was cancelled (DELETE)" \
	test "$(jq -s '[.[] | select(.method == "DELETE")] | length' "$PROXY_LOG")" -ge 1
tap_ok "f:2 exists" test -n "$(digest_of f:2)"
tree "$HARNESS_DIR/c" c 3000000
proxy_mode "reset method=PUT path=/blobs/uploads/ times=1" "pass"
push "$HARNESS_DIR/c" f:3
tap_is "$RC" 0 "a connection reset during the blob PUT is survived"

# persistent failures: exit 1, the tag does not move
tree "$HARNESS_DIR/e" e 3000000
proxy_mode "status code=503 method=PUT path=/blobs/uploads/"
push "$HARNESS_DIR/e" f:1
tap_is "$RC" 1 "a registry answering 503 to every blob PUT: exit 1"
tap_ok "... with a clear message" grep -q "cannot .*503\|HTTP 503" "$STRATA_ERR"
tap_is "$(digest_of f:1)" "$GOOD" "... and f:1 still names the previous good image"
proxy_mode "reset method=PUT path=/blobs/uploads/"
push "$HARNESS_DIR/e" f:new
tap_is "$RC" 1 "connections dropped mid-upload every time: exit 1"
tap_is "$(digest_of f:new)" "" "... and the tag f:new does not exist"
proxy_mode "reset method=PUT path=/manifests/1$"
push "$HARNESS_DIR/e" f:1
tap_is "$RC" 1 "the manifest PUT dropped every time: exit 1"
tap_is "$(digest_of f:1)" "$GOOD" "... f:1 unchanged"

# a big blob: one PATCH with the whole body, then PUT ?digest=
proxy_mode
tree "$HARNESS_DIR/big" big 40000000
: >"$PROXY_LOG"
push "$HARNESS_DIR/big" f:big --json
tap_is "$RC" 0 "a 40 MB layer goes up"
tap_is "$(jq -s '[.[] | select(.method == "PATCH")] | length' "$PROXY_LOG")" 1 "... in one PATCH"
tap_ok "... then PUT ?digest=" \
	test "$(jq -s '[.[] | select(.method == "PUT" and (.path | test("digest=sha256")))] | length' "$PROXY_LOG")" -ge 1
tap_is "$(digest_of f:big)" "$(jq -r .manifest "$HARNESS_DIR/out.json")" "f:big is there"
tap_done
