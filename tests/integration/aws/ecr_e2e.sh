#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: strata and stratafs reach an "ECR" registry with no
# credentials configured but AWS ones. The registry host (a loopback port)
# is made ECR by STRATAFS_ECR_HOST_ALIAS; the token comes from the
# GetAuthorizationToken stand-in (AWS_ENDPOINT_URL_ECR); the registry is a
# real distribution with htpasswd (user AWS, password = the token), fronted
# by s3_redirect_proxy.py, which answers blob GETs with a 307 to an S3-like
# host that rejects any request carrying Authorization.
#
# Registered in tests/integration/aws/meson.build. stratafs keeps the ECR
# token in <its cache dir>/tokens (fs/main.c sets reg_opts.token_cache_dir).
set -euo pipefail
. "$SRCDIR/tests/harness/lib.sh"
harness_init
. "$SRCDIR/tests/integration/aws/aws_lib.sh"
: "${STRATA:?}" "${STRATAFS:?}"
mkdir -p "$HARNESS_DIR/home"

registry_start ecr
SKOPEO_DEST_OPTS=(--dest-cert-dir "$HARNESS_CERT_DIR" --dest-creds "AWS:$TEST_ECR_PASS")
fixture_push multi app:build-cache

standin_start api --session-token "$TEST_SESSION"
PX=$HARNESS_DIR/proxy
mkdir -p "$PX"
/usr/bin/python3 "$SRCDIR/tests/integration/aws/s3_redirect_proxy.py" \
	--port-file "$PX/port" --s3-port-file "$PX/s3port" --upstream "$REGISTRY_URL" \
	--ca "$REGISTRY_CA" --tls-cert "$HARNESS_CA_DIR/server.crt" --tls-key "$HARNESS_CA_DIR/server.key" \
	--user AWS --password "$TEST_ECR_PASS" --log "$PX/log" >"$PX/out" 2>&1 &
HARNESS_PIDS="$HARNESS_PIDS $!"
for i in $(seq 1 200); do [ -s "$PX/port" ] && break; sleep 0.05; done
[ -s "$PX/port" ] || { cat "$PX/out" >&2; harness_fail "redirect proxy did not start"; }
: >"$PX/log"
FRONT=127.0.0.1:$(cat "$PX/port")
s3_requests() { jq -c "select(.side == \"s3\"${1:+ and $1})" "$PX/log" | wc -l; }

# --- the stand-ins behave like ECR + S3 (no stratafs code involved) --------
MAN=$(curl -sS --cacert "$REGISTRY_CA" -u "AWS:$TEST_ECR_PASS" \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' "https://$FRONT/v2/app/manifests/build-cache")
LAYER=$(printf '%s' "$MAN" | jq -r '.layers[0].digest')
tap_ok "front serves the manifest with the ECR-style credentials" test -n "$LAYER"
code() { curl -sS -o "$HARNESS_DIR/body" -w '%{http_code}' --cacert "$REGISTRY_CA" "$@"; }
tap_is "$(code -u "AWS:$TEST_ECR_PASS" "https://$FRONT/v2/app/blobs/$LAYER")" 307 "blob GET answers 307"
tap_is "$(code -L -u "AWS:$TEST_ECR_PASS" "https://$FRONT/v2/app/blobs/$LAYER")" 200 \
	"following it without Authorization gets the blob"
tap_is "$(sha256sum <"$HARNESS_DIR/body" | cut -d' ' -f1)" "${LAYER#sha256:}" "and the right bytes"
tap_is "$(code -L --location-trusted -u "AWS:$TEST_ECR_PASS" "https://$FRONT/v2/app/blobs/$LAYER")" 400 \
	"the S3 side refuses a request that still carries Authorization"
curl -sS --cacert "$REGISTRY_CA" -u "AWS:$TEST_ECR_PASS" "https://$REGISTRY/v2/app/blobs/$LAYER" \
	-o "$HARNESS_DIR/layer.tgz"
# What the files hold (lib_fixtures.sh's multi: keep/a.txt rewritten by the last layer).
printf 'b v1\n' >"$HARNESS_DIR/want_b"
printf 'a v2\n' >"$HARNESS_DIR/want_a"
: >"$PX/log"

# --- strata and stratafs with ECR auth (needs the client wiring) -----------
export STRATAFS_ECR_HOST_ALIAS="$FRONT=123456789012/us-east-1"
export AWS_ENDPOINT_URL_ECR=$STANDIN_api_URL
export AWS_ACCESS_KEY_ID=$TEST_AKID AWS_SECRET_ACCESS_KEY=$TEST_SECRET AWS_SESSION_TOKEN=$TEST_SESSION
export AWS_EC2_METADATA_DISABLED=true HOME=$HARNESS_DIR/home XDG_CACHE_HOME=$HARNESS_DIR/xdg
ERR=$HARNESS_DIR/strata.err

tap_ok "strata inspect: no --username, AWS credentials only" \
	bash -c "'$STRATA' inspect '$FRONT/app:build-cache' --ca-file '$REGISTRY_CA' --cache '$HARNESS_DIR/strata-cache' -v --json >'$HARNESS_DIR/inspect.json' 2>'$ERR'"
tap_is "$(jq -r '.layers[0].digest' "$HARNESS_DIR/inspect.json" 2>/dev/null)" "$LAYER" "inspect sees the layer"
tap_is "$(standin_count api ecr 200)" 1 "one GetAuthorizationToken (SigV4 checked by botocore)"
tap_ok "strata blob: the layer through the 307" \
	bash -c "'$STRATA' blob '$FRONT/app:build-cache' '$LAYER' -o '$HARNESS_DIR/got.tgz' --ca-file '$REGISTRY_CA' --cache '$HARNESS_DIR/strata-cache' -v 2>>'$ERR'"
tap_ok "blob: same bytes as the layer" cmp "$HARNESS_DIR/got.tgz" "$HARNESS_DIR/layer.tgz"
tap_ok "strata blob --range: a range through the 307" \
	bash -c "'$STRATA' blob '$FRONT/app:build-cache' '$LAYER' --range 10-99 -o '$HARNESS_DIR/range' --ca-file '$REGISTRY_CA' --cache '$HARNESS_DIR/strata-cache' 2>>'$ERR'"
tap_ok "range: the right 90 bytes" cmp "$HARNESS_DIR/range" <(tail -c +11 "$HARNESS_DIR/layer.tgz" | head -c 90)
tap_ok "blob bytes came from the S3 side" test "$(s3_requests)" -gt 0
tap_ok "the range reached S3 as a Range header" test "$(s3_requests '.range == "bytes=10-99"')" -ge 1
tap_is "$(s3_requests '.auth == true')" 0 "no request to the S3 side carried Authorization"
tap_is "$(s3_requests '.status == 400')" 0 "and S3 refused none"

unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
tap_not "without AWS credentials: refused" \
	bash -c "'$STRATA' inspect '$FRONT/app:build-cache' --ca-file '$REGISTRY_CA' --cache '$HARNESS_DIR/strata-cache' 2>>'$HARNESS_DIR/nocreds.err'"
export AWS_ACCESS_KEY_ID=$TEST_AKID AWS_SECRET_ACCESS_KEY=$TEST_SECRET AWS_SESSION_TOKEN=$TEST_SESSION

# Mounts: a 20 s token (fresh for 10 s). The first mount asks the API and
# caches the token (0600) in its cache dir; a second mount right after uses
# the cached token; a third one after the half-life asks the API again.
standin_start short --session-token "$TEST_SESSION" --expires-in 20
export AWS_ENDPOINT_URL_ECR=$STANDIN_short_URL
MNT=$HARNESS_DIR/mnt
CACHE=$HARNESS_DIR/fscache
mkdir -p "$MNT" "$CACHE"
harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"
: >"$HARNESS_DIR/fs.log"
mount_ecr() { ecr_mount "$FRONT/app:build-cache" "$MNT" "$CACHE" "$HARNESS_DIR/fs.log" -f; }
umount_ecr() {
	local i
	fusermount3 -u "$MNT" || return 1
	for i in $(seq 1 100); do
		pgrep -f "stratafs $FRONT/app:build-cache $MNT" >/dev/null || return 0
		sleep 0.05
	done
}
T0=$(date +%s)
tap_ok "stratafs mounts the ECR reference" mount_ecr
tap_ok "read keep/b.txt (base layer)" cmp "$MNT/keep/b.txt" "$HARNESS_DIR/want_b"
tap_ok "read keep/a.txt (last layer)" cmp "$MNT/keep/a.txt" "$HARNESS_DIR/want_a"
tap_is "$(find "$CACHE" -name 'ecr-123456789012-us-east-1-*.json' -perm 600 | wc -l)" 1 \
	"token cached in the mount's cache dir, mode 0600"
tap_ok "unmount" umount_ecr
tap_ok "second mount" mount_ecr
tap_ok "second mount reads" cmp "$MNT/keep/a.txt" "$HARNESS_DIR/want_a"
tap_is "$(standin_count short ecr 200)" 1 "second mount used the cached token"
tap_ok "unmount" umount_ecr
sleep $((T0 + 11 - $(date +%s))) 2>/dev/null || true
tap_ok "third mount after the half-life" mount_ecr
tap_ok "third mount reads" cmp "$MNT/keep/b.txt" "$HARNESS_DIR/want_b"
tap_is "$(standin_count short ecr 200)" 2 "the token was refreshed at half-life"
tap_is "$(s3_requests '.auth == true')" 0 "still no Authorization sent to S3"
umount_ecr || true

# Presigned URLs (the 307 targets) are secrets too: a debug trace of strata
# (-v -v) and the stratafs log=debug output name the redirect but never its
# X-Amz-Signature / -Credential / -Security-Token query values.
DBG=$HARNESS_DIR/debug.log
tap_ok "strata blob -v -v through the 307 (curl trace on)" \
	bash -c "'$STRATA' blob '$FRONT/app:build-cache' '$LAYER' -o /dev/null --ca-file '$REGISTRY_CA' --cache '$HARNESS_DIR/strata-cache' -v -v 2>'$DBG'"
cat "$HARNESS_DIR/fs.log" >>"$DBG"
tap_ok "the debug trace shows the redirect to S3 was followed" grep -q "redirected to another origin" "$DBG"
tap_ok "and the curl trace shows the request lines, query redacted" grep -q '?<redacted>' "$DBG"
tap_is "$(grep -cE 'X-Amz-(Signature|Credential|Security-Token)=' "$DBG" || true)" 0 \
	"no X-Amz-Signature= / X-Amz-Credential= / X-Amz-Security-Token= value in any debug log"

cat "$ERR" "$HARNESS_DIR/fs.log" "$HARNESS_DIR/nocreds.err" "$DBG" >"$HARNESS_DIR/all.log" 2>/dev/null || true
tap_ok "no credential in strata -v / stratafs log=debug output" no_secret_in "$HARNESS_DIR/all.log"
tap_ok "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error:' '$HARNESS_DIR/all.log'"
tap_done
