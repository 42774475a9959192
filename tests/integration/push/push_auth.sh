#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata push over TLS with basic auth and with bearer tokens: the token
# asked for is "repository:<name>:pull,push", the pushed image is read back
# by skopeo, and strata inspect finds its index through the fallback tag.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
harness_init

D="$HARNESS_DIR/tree"
mkdir -p "$D/d"
echo hello >"$D/d/f"
head -c 200000 /dev/urandom >"$D/d/r"

for v in basic token; do
	registry_start "$v"
	tap_ok "$v: push" strata_run push "$D" "$REGISTRY/auth/x:1"
	tap_ok "$v: the password is never printed" sh -c "! grep -q -- '$REGISTRY_PASS' '$STRATA_ERR'"
	tap_ok "$v: skopeo reads the image" skopeo inspect "${SKOPEO_SRC_OPTS[@]/--src-/--}" \
		"docker://$REGISTRY/auth/x:1"
	strata_run inspect "$REGISTRY/auth/x:1" >"$HARNESS_DIR/inspect.txt" 2>/dev/null || true
	tap_ok "$v: strata inspect finds the pushed index" grep -q 'stratafs index: pinned' "$HARNESS_DIR/inspect.txt"
	mkdir -p "$HARNESS_DIR/top-$v"
	echo top >"$HARNESS_DIR/top-$v/top.txt"
	tap_ok "$v: push --base into another repository" \
		strata_run push "$HARNESS_DIR/top-$v" "$REGISTRY/auth/y:1" --base "$REGISTRY/auth/x:1"
	tap_ok "$v: ... the base layer was mounted, not uploaded" \
		test "$(registry_requests POST '^/v2/auth/y/blobs/uploads/\?mount=.*&from=auth%2Fx$')" -ge 1
	tap_is "$(registry_requests PUT "^/v2/auth/y/blobs/uploads/")" 4 \
		"$v: ... 4 blobs uploaded (layer, its index, image config, the 2-byte {}); the base layer and its index mounted"
	if [ "$v" = token ]; then
		tap_ok "token: scope pull,push asked for" grep -q 'repository:auth/x:pull,push' \
			<(token_scopes)
	fi
	registry_stop
done
tap_done
