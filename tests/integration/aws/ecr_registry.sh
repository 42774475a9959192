#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A REAL registry (distribution, TLS, htpasswd basic auth) standing in for
# an ECR registry: user "AWS", password = the token the ECR API stand-in
# hands out. The token from the credential chain + GetAuthorizationToken
# opens it, as "Authorization: Basic <authorizationToken>" verbatim and as
# user/password (skopeo pushes an image with it); the test alias makes the
# loopback registry count as ECR account/region.
set -euo pipefail
. "$SRCDIR/tests/harness/lib.sh"
harness_init
. "$SRCDIR/tests/integration/aws/aws_lib.sh"
mkdir -p "$HARNESS_DIR/home"

registry_start ecr

standin_start api --session-token "$TEST_SESSION"
DRIVER_ENV=(AWS_ACCESS_KEY_ID=$TEST_AKID AWS_SECRET_ACCESS_KEY=$TEST_SECRET
	AWS_SESSION_TOKEN=$TEST_SESSION AWS_ENDPOINT_URL_ECR=$STANDIN_api_URL
	"STRATAFS_ECR_HOST_ALIAS=$REGISTRY=123456789012/us-east-1")

tap_not "the loopback registry is not ECR without the alias" \
	env -i "$DRIVER" "$REGISTRY"
tap_ok "token for the aliased registry host" driver -d "$REGISTRY"
USER_GOT=$(sed -n 1p "$DRIVER_OUT")
PASS_GOT=$(sed -n 2p "$DRIVER_OUT")
tap_is "$USER_GOT" AWS "user AWS"
TOKEN=$(printf '%s:%s' "$USER_GOT" "$PASS_GOT" | base64 -w0)

code() { curl -sS -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" "$@"; }
tap_is "$(code "$REGISTRY_URL/v2/")" 401 "the registry wants credentials"
tap_is "$(curl -sS -D - -o /dev/null --cacert "$REGISTRY_CA" "$REGISTRY_URL/v2/" |
	tr -d '\r' | sed -n 's/^[Ww]ww-[Aa]uthenticate: //p')" \
	"Basic realm=\"https://$REGISTRY/\"" "challenge is Basic, like ECR's"
tap_is "$(code -H "Authorization: Basic $TOKEN" "$REGISTRY_URL/v2/")" 200 \
	"Authorization: Basic <authorizationToken> opens it"
tap_is "$(code -u "$USER_GOT:$PASS_GOT" "$REGISTRY_URL/v2/")" 200 "user/password opens it"
tap_is "$(code -u "AWS:not-the-token" "$REGISTRY_URL/v2/")" 401 "another password does not"

# A real push and pull with the token.
SKOPEO_DEST_OPTS=(--dest-cert-dir "$HARNESS_CERT_DIR" --dest-creds "$USER_GOT:$PASS_GOT")
fixture_push single app:build-cache
tap_is "$(curl -sS --cacert "$REGISTRY_CA" -u "$USER_GOT:$PASS_GOT" \
	"$REGISTRY_URL/v2/app/tags/list" | jq -c .tags)" '["build-cache"]' \
	"skopeo pushed an image with the ECR-style token"
tap_ok "skopeo inspects it back with the token" \
	skopeo inspect --cert-dir "$HARNESS_CERT_DIR" --creds "$USER_GOT:$PASS_GOT" \
	"docker://$REGISTRY/app:build-cache"
tap_not "and not without it" \
	skopeo inspect --cert-dir "$HARNESS_CERT_DIR" "docker://$REGISTRY/app:build-cache"
tap_is "$(standin_count api ecr 200)" 1 "one GetAuthorizationToken for all of it"
tap_ok "no credential in the driver's stderr" no_secret_in "$ALL_ERR"
tap_ok "no sanitizer report from the driver" bash -c "! grep -qE 'Sanitizer|runtime error:' '$ALL_ERR'"
tap_done
