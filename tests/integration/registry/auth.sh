#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TLS verification and credentials: TLS is verified by default, basic and
# token auth work and fail clearly, the token issuer sees pull-only scopes,
# expired tokens are refreshed (across runs and within one), and no secret
# reaches the output even with -v -v.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
harness_init

OUT=$HARNESS_DIR/auth.out

# run_rc CMD ARGS...: print the exit status of strata_run CMD ARGS (output to $OUT)
run_rc() {
	local rc=0
	strata_run "$@" >"$OUT" 2>/dev/null || rc=$?
	echo "$rc"
}

err_says() { # REGEX: $STRATA_ERR matches (case-insensitive)
	grep -qiE -- "$1" "$STRATA_ERR" || {
		echo "stderr does not match /$1/:"
		cat "$STRATA_ERR"
		return 1
	}
}

no_secret() { # SECRET...: none of them in $OUT or $STRATA_ERR
	local s
	for s in "$@"; do
		if grep -qF -- "$s" "$OUT" "$STRATA_ERR"; then
			echo "found a secret in the output: ${s:0:6}..."
			return 1
		fi
	done
}

# --- TLS ------------------------------------------------------------------
registry_start tls
fixture_push single a/single:latest
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json)" 0 "tls: inspect with --ca-file works"
saved=("${STRATA_REG_OPTS[@]}")
STRATA_REG_OPTS=()
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json)" 1 "tls: without --ca-file verification fails (exit 1)"
tap_ok "tls: ...with a certificate error message" err_says 'certif|verif|tls|ssl|issuer'
tap_ok "tls: ...and no crash" bash -c "! grep -qE 'Sanitizer|runtime error' '$STRATA_ERR'"
STRATA_REG_OPTS=(--ca-file "$HARNESS_CA_DIR/signer.crt")
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json)" 1 "tls: --ca-file with the wrong CA fails (exit 1)"
STRATA_REG_OPTS=(--ca-file "$HARNESS_DIR/no-such-ca.pem")
rc=$(run_rc inspect "$REGISTRY/a/single:latest" --json)
tap_ok "tls: --ca-file naming a missing file fails (exit 1 or 2, got $rc)" bash -c "[ $rc = 1 ] || [ $rc = 2 ]"
STRATA_REG_OPTS=(--insecure)
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json)" 0 "tls: --insecure (registry named insecure) skips verification"
STRATA_REG_OPTS=("${saved[@]}")
registry_stop

# --- basic ------------------------------------------------------------------
registry_start basic
fixture_push single a/single:latest
b64=$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASS" | base64 -w0)
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json -v -v)" 0 "basic: inspect with --username/--password-stdin works"
tap_ok "basic: -v -v shows neither the password nor the Authorization value" no_secret "$REGISTRY_PASS" "$b64"
saved=("${STRATA_REG_OPTS[@]}")
STRATA_REG_OPTS=(--ca-file "$REGISTRY_CA")
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json)" 1 "basic: without credentials: exit 1"
tap_ok "basic: ...saying it is an authentication problem" err_says '401|unauthori[sz]ed|auth|denied|credential'
good=$REGISTRY_PASS
REGISTRY_PASS=wrong-password
STRATA_REG_OPTS=("${saved[@]}")
tap_timed strata_run inspect "$REGISTRY/a/single:latest" --json
tap_is "$TAP_RC" 1 "basic: a wrong password: exit 1"
cp "$TAP_OUT" "$STRATA_ERR"
tap_ok "basic: ...with a clear message" err_says '401|unauthori[sz]ed|auth|denied|credential|password'
tap_ok "basic: ...quickly (no retry loop on 401: $TAP_SECS s < 10 s)" tap_lt "$TAP_SECS" 10
REGISTRY_PASS=$good
registry_stop

# --- token ------------------------------------------------------------------
registry_start token
fixture_push single a/single:latest
fixture_push multi a/multi:latest
: >"$TOKEN_LOG"
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json -v -v)" 0 "token: inspect works"
tap_ok "token: the issuer was asked for repository:a/single:pull" grep -qx 'repository:a/single:pull' <(token_scopes)
tap_ok "token: ...and never for push" bash -c "! jq -r '.scopes[]' '$TOKEN_LOG' | grep -q push"
tap_ok "token: -v -v shows neither the password nor a token" \
	no_secret "$REGISTRY_PASS" "$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASS" | base64 -w0)" \
	"$(token_get repository:a/single:pull | cut -c1-60)" # every token of this issuer starts so
cfg=$(skopeo_raw a/single:latest | jq -r .config.digest)
: >"$TOKEN_LOG"
tap_is "$(run_rc blob "$REGISTRY/a/single:latest" "$cfg")" 0 "token: blob works"
tap_ok "token: blob asked for repository:a/single:pull only" \
	bash -c "[ \"\$(jq -r '.scopes[]' '$TOKEN_LOG' | sort -u)\" = 'repository:a/single:pull' ]"

# expiry across runs: tokens live 2 s; a second inspect after 3 s still works
token_expires_in 2
: >"$TOKEN_LOG"
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json)" 0 "token: inspect with 2 s tokens"
sleep 3
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json)" 0 "token: inspect again 3 s later (token expired) works"
tap_ok "token: ...with a new token ($(token_requests 200) issued)" bash -c "[ $(token_requests 200) -ge 2 ]"
token_expires_in 300

# wrong password / no credentials
good=$REGISTRY_PASS
REGISTRY_PASS=wrong-password
tap_timed strata_run inspect "$REGISTRY/a/single:latest" --json
tap_is "$TAP_RC" 1 "token: a wrong password: exit 1"
cp "$TAP_OUT" "$STRATA_ERR"
tap_ok "token: ...with a clear message" err_says '401|unauthori[sz]ed|auth|denied|credential|password|token'
tap_ok "token: ...quickly ($TAP_SECS s < 10 s)" tap_lt "$TAP_SECS" 10
REGISTRY_PASS=$good
saved=("${STRATA_REG_OPTS[@]}")
STRATA_REG_OPTS=(--ca-file "$REGISTRY_CA")
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json)" 1 "token: no credentials (issuer refuses anonymous): exit 1"
STRATA_REG_OPTS=("${saved[@]}")
registry_stop

# expiry within one run: token-http behind the proxy, 3 s tokens. inspect
# reads the manifest (getting a token), then the config blob: that GET is
# held 4.5 s in the proxy, so the token it carries has expired when it reaches
# the registry (401, error="invalid_token"): the client must fetch a new
# token and retry.
registry_start token-http
fixture_push multi a/multi:latest
proxy_start
want=$(expect_inspect a/multi:latest)
cfg=$(skopeo_raw a/multi:latest | jq -r .config.digest)
token_expires_in 3
: >"$TOKEN_LOG"
proxy_mode "delay secs=4.5 path=/blobs/$cfg times=1"
rc=$(run_rc inspect "$PROXY/a/multi:latest" --json --timeout 20)
tap_is "$rc" 0 "token-http: a token that expires between two requests of one run is refreshed"
tap_is "$(inspect_subset <"$OUT" 2>/dev/null || true)" "$want" "token-http: ...and the answer is right"
tap_ok "token-http: ...with a second token ($(token_requests 200) issued)" bash -c "[ $(token_requests 200) -ge 2 ]"
token_expires_in 300
proxy_stop
registry_stop

# basic over plain HTTP to loopback: the password goes out only because we
# said so; the client still works
registry_start basic-http
fixture_push single a/single:latest
tap_is "$(run_rc inspect "$REGISTRY/a/single:latest" --json)" 0 "basic-http: basic auth over plain HTTP to loopback works"

# a blob GET redirected to another origin (ECR -> S3): followed, Range kept,
# credentials NOT sent there
proxy_start
layer=$(skopeo_raw a/single:latest | jq -r '.layers[0].digest')
skopeo_pull a/single:latest "$HARNESS_DIR/single"
proxy_mode "redirect path=^/v2/a/single/blobs/"
rc=$(run_rc blob "$PROXY/a/single:latest" "$layer")
tap_ok "basic-http: a blob redirected to another origin is followed (exit $rc, right bytes)" \
	bash -c "[ $rc = 0 ] && cmp -s '$OUT' '$HARNESS_DIR/single/${layer#sha256:}'"
rc=$(run_rc blob "$PROXY/a/single:latest" "$layer" --range 1000-1999)
tap_ok "basic-http: ...a range too (exit $rc, right bytes)" \
	bash -c "[ $rc = 0 ] && cmp -s '$OUT' <(dd if='$HARNESS_DIR/single/${layer#sha256:}' iflag=skip_bytes,count_bytes skip=1000 count=1000 status=none)"
tap_ok "basic-http: ...the redirected requests were made" \
	bash -c "[ \$(jq -c 'select(.path | startswith(\"/__redirected/\"))' '$PROXY_LOG' | wc -l) -ge 2 ]"
tap_is "$(proxy_redirected_with_auth)" 0 "basic-http: ...and never carried the registry credentials to the other origin"
proxy_stop
registry_stop

tap_done
