#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The credential chain and GetAuthorizationToken against loopback stand-ins
# (ecr_standin.py verifies every SigV4 signature with botocore): env keys
# with a session token, container credentials (relative and full URI, token
# and token file), IMDSv2, throttling retries, AccessDenied, a bad secret,
# TLS verification, the 0600 token cache and invalidation, and the endpoint
# conventions of the AWS tools (AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the
# config file's services section and endpoint_url, in that order; the stand-in
# is reached through AWS_ENDPOINT_URL_ECR throughout). No credential may
# appear in the driver's stderr at debug level.
set -euo pipefail
. "$SRCDIR/tests/harness/lib.sh"
harness_init
. "$SRCDIR/tests/integration/aws/aws_lib.sh"
mkdir -p "$HARNESS_DIR/home"

standin_start main --session-token "$TEST_SESSION"
U=$STANDIN_main_URL
ENV_KEYS=(AWS_ACCESS_KEY_ID=$TEST_AKID AWS_SECRET_ACCESS_KEY=$TEST_SECRET AWS_SESSION_TOKEN=$TEST_SESSION)

# 1. environment credentials with a session token
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$U)
tap_ok "env keys + session token: token from the ECR stand-in" driver -d "$ECR_HOST"
tap_ok "user AWS and the stand-in's password" driver_got_token
tap_is "$(standin_count main ecr 200)" 1 "one GetAuthorizationToken call, signature verified by botocore"

# 2. a wrong secret is refused by the verifier: EACCES, not retried
DRIVER_ENV=(AWS_ACCESS_KEY_ID=$TEST_AKID "AWS_SECRET_ACCESS_KEY=not-$TEST_SECRET"
	AWS_SESSION_TOKEN=$TEST_SESSION AWS_ENDPOINT_URL_ECR=$U)
tap_not "wrong secret fails" driver -d "$ECR_HOST"
tap_is "$(cat "$DRIVER_OUT")" "error: EACCES" "wrong secret maps to EACCES"
tap_is "$(standin_count main ecr 403)" 1 "the bad signature was sent once (403 is not retried)"

# 3. missing session token is refused too
DRIVER_ENV=(AWS_ACCESS_KEY_ID=$TEST_AKID AWS_SECRET_ACCESS_KEY=$TEST_SECRET AWS_ENDPOINT_URL_ECR=$U)
tap_not "temporary keys without their session token fail" driver "$ECR_HOST"

# 4. container credentials, relative URI (what CodeBuild sets)
DRIVER_ENV=(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/creds/build-1 STRATAFS_AWS_CONTAINER_HOST=$U
	AWS_CONTAINER_AUTHORIZATION_TOKEN=$TEST_CONTAINER_TOKEN AWS_ENDPOINT_URL_ECR=$U)
standin_start ctr --session-token "$TEST_SESSION"
DRIVER_ENV=(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/creds/build-1
	STRATAFS_AWS_CONTAINER_HOST=$STANDIN_ctr_URL
	AWS_CONTAINER_AUTHORIZATION_TOKEN=$TEST_CONTAINER_TOKEN AWS_ENDPOINT_URL_ECR=$STANDIN_ctr_URL)
tap_ok "container credentials (relative URI)" driver -d "$ECR_HOST"
tap_ok "container credentials: token" driver_got_token
tap_is "$(standin_count ctr container 200)" 1 "container endpoint asked once"

# 5. full URI with a token file (re-read), and a wrong token
printf '%s\n' "$TEST_CONTAINER_TOKEN" >"$HARNESS_DIR/ctok"
DRIVER_ENV=(AWS_CONTAINER_CREDENTIALS_FULL_URI=$STANDIN_ctr_URL/creds/pod
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$HARNESS_DIR/ctok AWS_ENDPOINT_URL_ECR=$STANDIN_ctr_URL)
tap_ok "container credentials (full URI, token file)" driver -d "$ECR_HOST"
tap_ok "full URI: token" driver_got_token
echo wrong >"$HARNESS_DIR/ctok"
tap_not "a wrong container authorization token fails" driver "$ECR_HOST"
tap_is "$(cat "$DRIVER_OUT")" "error: EACCES" "container 401 maps to EACCES"
DRIVER_ENV=(AWS_CONTAINER_CREDENTIALS_FULL_URI=http://192.0.2.1/creds AWS_ENDPOINT_URL_ECR=$U)
tap_not "a plain-HTTP FULL_URI on a foreign host is refused" driver "$ECR_HOST"

# 6. EC2 IMDSv2
DRIVER_ENV=(AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=$STANDIN_ctr_URL/
	AWS_ENDPOINT_URL_ECR=$STANDIN_ctr_URL)
tap_ok "IMDSv2 credentials" driver -d "$ECR_HOST"
tap_ok "IMDSv2: token" driver_got_token
tap_is "$(standin_count ctr imds 200)" 3 "IMDS: PUT token, GET role, GET credentials"

# 7. shared credentials file + profile
mkdir -p "$HARNESS_DIR/home/.aws"
printf '[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n' \
	"$TEST_AKID" "$TEST_SECRET" "$TEST_SESSION" >"$HARNESS_DIR/home/.aws/credentials"
DRIVER_ENV=(AWS_PROFILE=ci AWS_ENDPOINT_URL_ECR=$U)
tap_ok "profile from ~/.aws/credentials" driver -d "$ECR_HOST"
tap_ok "profile: token" driver_got_token
rm -rf "$HARNESS_DIR/home/.aws"

# 8. throttling: two ThrottlingExceptions, then success (backoff + jitter)
standin_start thr --session-token "$TEST_SESSION" --throttle 2
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$STANDIN_thr_URL)
tap_ok "throttled twice, then a token" driver -d "$ECR_HOST"
tap_is "$(standin_count thr ecr 400),$(standin_count thr ecr 200)" "2,1" "2 throttled + 1 good call"
standin_start thr2 --session-token "$TEST_SESSION" --throttle 100
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$STANDIN_thr2_URL)
tap_not "always throttled: gives up" driver "$ECR_HOST"
tap_is "$(cat "$DRIVER_OUT"),$(standin_count thr2 ecr)" "error: EAGAIN,5" "EAGAIN after 1 + 4 retries"

# 9. AccessDenied (no ecr:GetAuthorizationToken)
standin_start deny --session-token "$TEST_SESSION" --deny
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$STANDIN_deny_URL)
tap_not "AccessDeniedException fails" driver "$ECR_HOST"
tap_is "$(cat "$DRIVER_OUT"),$(standin_count deny ecr)" "error: EACCES,1" "EACCES, not retried"

# 9b. a build host whose clock is an hour off: signed again on the API's clock
standin_start skew --session-token "$TEST_SESSION" --skew 3600
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$STANDIN_skew_URL)
tap_ok "clock an hour off: token anyway" driver "$ECR_HOST"
tap_is "$(standin_count skew ecr 403),$(standin_count skew ecr 200)" "1,1" \
	"one refused signature, then one on the server's clock"
tap_ok "and the log says the clock is off" grep -q "clock is 3600 s off" "$DRIVER_ERR"
standin_start skew2 --session-token "$TEST_SESSION" --skew 100
DRIVER_ENV=(AWS_ACCESS_KEY_ID=$TEST_AKID "AWS_SECRET_ACCESS_KEY=bad$TEST_SECRET"
	AWS_SESSION_TOKEN=$TEST_SESSION AWS_ENDPOINT_URL_ECR=$STANDIN_skew2_URL)
tap_not "a bad key with a good clock is not retried as skew" driver "$ECR_HOST"
tap_is "$(standin_count skew2 ecr)" 1 "one request only"

# 10. TLS: verified against the harness CA; refused without it; no plain HTTP off loopback
harness_ca
standin_start tls --session-token "$TEST_SESSION" --tls-cert "$HARNESS_CA_DIR/server.crt" \
	--tls-key "$HARNESS_CA_DIR/server.key"
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$STANDIN_tls_URL)
tap_ok "https endpoint with the CA" driver --ca "$REGISTRY_CA" "$ECR_HOST"
tap_not "https endpoint with an unknown CA is refused" driver "$ECR_HOST"
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=http://192.0.2.1:8080)
tap_not "plain HTTP to a non-loopback ECR endpoint is refused" driver "$ECR_HOST"

# 11. token cache: 0600 file in a 0700 dir; a second run needs no API call
standin_start cache --session-token "$TEST_SESSION"
CACHE=$HARNESS_DIR/cache/tokens
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$STANDIN_cache_URL)
tap_ok "first run fills the cache" driver -d --cache "$CACHE" "$ECR_HOST"
tap_is "$(stat -c %a "$CACHE")" 700 "cache dir is 0700"
tap_is "$(stat -c %a "$CACHE"/ecr-123456789012-us-east-1-*.json)" 600 "cache file is 0600"
tap_ok "second run: token" driver -d --cache "$CACHE" "$ECR_HOST"
tap_ok "second run: same token" driver_got_token
tap_is "$(standin_count cache ecr)" 1 "second run served from the cache"
kill "$STANDIN_cache_PID"
wait "$STANDIN_cache_PID" 2>/dev/null || true
tap_ok "API down: the fresh cached token still serves" driver --cache "$CACHE" "$ECR_HOST"
tap_ok "no cache entry for another access key" \
	bash -c "! ls '$CACHE'/*.json | grep -q AKID"

# 12. invalidation: a refused token is dropped and fetched again
standin_start inv --session-token "$TEST_SESSION"
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$STANDIN_inv_URL)
tap_ok "three headers with an invalidation between each" driver -d --times 3 --invalidate "$ECR_HOST"
tap_is "$(standin_count inv ecr)" 3 "each invalidation costs one API call"
tap_ok "three headers without invalidation" driver --times 3 "$ECR_HOST"
tap_is "$(standin_count inv ecr)" 4 "the in-memory token is reused"
# Refusals as the registry client reports them (the header it sent). A
# token the API handed out within the minute is kept: a refusal then is a
# permission the role lacks, and every request (403) cost an API call.
tap_ok "five requests refused, token fresh from the API" driver --times 5 --refuse "$ECR_HOST"
tap_is "$(standin_count inv ecr)" 5 "... one API call in all (was one per refusal)"
# A token from the disk cache may be stale: its first refusal drops it.
rm -rf "$HARNESS_DIR/invc" && mkdir -p "$HARNESS_DIR/invc"
tap_ok "a token into the disk cache" driver --cache "$HARNESS_DIR/invc" "$ECR_HOST"
tap_ok "five requests refused, token from the disk cache" \
	driver --cache "$HARNESS_DIR/invc" --times 5 --refuse "$ECR_HOST"
tap_is "$(standin_count inv ecr)" 7 "... its first refusal fetched a new one, the later ones kept it"

# 13. temporary credentials are fetched again when they near their Expiration
standin_start ttl --session-token "$TEST_SESSION" --creds-ttl 120
DRIVER_ENV=(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/creds/short STRATAFS_AWS_CONTAINER_HOST=$STANDIN_ttl_URL
	AWS_CONTAINER_AUTHORIZATION_TOKEN=$TEST_CONTAINER_TOKEN AWS_ENDPOINT_URL_ECR=$STANDIN_ttl_URL)
tap_ok "credentials expiring within the 5 min margin" driver --times 2 --invalidate "$ECR_HOST"
tap_is "$(standin_count ttl container 200)" 2 "are fetched again for the next token"
standin_start ttl2 --session-token "$TEST_SESSION" --creds-ttl 3600
DRIVER_ENV=(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/creds/long STRATAFS_AWS_CONTAINER_HOST=$STANDIN_ttl2_URL
	AWS_CONTAINER_AUTHORIZATION_TOKEN=$TEST_CONTAINER_TOKEN AWS_ENDPOINT_URL_ECR=$STANDIN_ttl2_URL)
tap_ok "credentials valid for an hour" driver --times 2 --invalidate "$ECR_HOST"
tap_is "$(standin_count ttl2 container 200),$(standin_count ttl2 ecr 200)" "1,2" \
	"are reused (one credentials fetch, two tokens)"

# 14. no credentials at all: an auth failure for the registry
DRIVER_ENV=(AWS_ENDPOINT_URL_ECR=$U)
tap_not "no AWS credentials anywhere fails" driver "$ECR_HOST"
tap_is "$(cat "$DRIVER_OUT")" "error: EACCES" "as EACCES (not ENOENT: the image may well exist)"

# 15. endpoints configured as the AWS CLI and SDKs configure them (docs/ecr.md)
standin_start ep --session-token "$TEST_SESSION"
DEAD=http://127.0.0.1:9 # nothing listens: a request there fails at once
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$STANDIN_ep_URL)
tap_ok "AWS_ENDPOINT_URL_ECR names the ECR API" driver "$ECR_HOST"
tap_ok "its token came from the stand-in" driver_got_token
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL=$STANDIN_ep_URL)
tap_ok "AWS_ENDPOINT_URL (every service) names it too" driver "$ECR_HOST"
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_ENDPOINT_URL_ECR=$STANDIN_ep_URL AWS_ENDPOINT_URL=$DEAD)
tap_ok "AWS_ENDPOINT_URL_ECR wins over AWS_ENDPOINT_URL" driver "$ECR_HOST"
tap_is "$(standin_count ep ecr 200)" 3 "three tokens from the stand-in"
cat >"$HARNESS_DIR/aws-config" <<CFG
[services local-ecr]
ecr =
  endpoint_url = $STANDIN_ep_URL

[profile svc]
region = eu-west-1
services = local-ecr
endpoint_url = $DEAD

[profile global]
endpoint_url = $STANDIN_ep_URL
CFG
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_CONFIG_FILE=$HARNESS_DIR/aws-config AWS_PROFILE=svc)
tap_ok "the profile's services section (ecr / endpoint_url) beats its endpoint_url" \
	driver "$ECR_HOST"
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_CONFIG_FILE=$HARNESS_DIR/aws-config AWS_PROFILE=global)
tap_ok "the profile's endpoint_url alone" driver "$ECR_HOST"
DRIVER_ENV=("${ENV_KEYS[@]}" AWS_CONFIG_FILE=$HARNESS_DIR/aws-config AWS_PROFILE=global
	AWS_ENDPOINT_URL=$DEAD)
tap_not "the environment wins over the config file" driver "$ECR_HOST"
tap_is "$(standin_count ep ecr 200)" 5 "the config file's endpoints reached the stand-in twice"

# 16. nothing secret in any debug output
tap_ok "no credential in the driver's stderr (debug level, all runs)" no_secret_in "$ALL_ERR"
tap_ok "debug output is not empty (the check saw something)" test -s "$ALL_ERR"
tap_ok "no sanitizer report from the driver" bash -c "! grep -qE 'Sanitizer|runtime error:' '$ALL_ERR'"
tap_done
