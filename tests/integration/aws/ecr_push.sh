#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# strata push to "ECR" end to end, with credentials only from the
# container credentials endpoint (what CodeBuild gives), then a mount of the
# pushed image through the same ECR path.
#
# Same world as ecr_e2e.sh: the GetAuthorizationToken stand-in (SigV4
# checked with botocore) also serves the container credentials; a real
# distribution registry (htpasswd) sits behind s3_redirect_proxy.py, which
# here checks tokens like ECR (--token-log: every token is different, an
# expired or revoked one gets 403 DENIED), rewrites upload Locations to its
# own origin, and redirects blob GETs to an S3 stand-in that refuses
# Authorization, honours Range and expires its URLs. The loopback front is
# made an ECR host by STRATAFS_ECR_HOST_ALIAS.
#
#   1. push DIR1 -> app:v1 (container credentials only)
#   2. push DIR2 -> app:v2 --base app:v1: base blobs not sent again
#   3. stratafs mounts app:v2 through ECR + S3: files equal DIR1+DIR2, read
#      lazily (index from the registry, ranged reads only), token cache 0600
#   4. a token revoked mid-push (the front refuses the 2nd upload request):
#      the push gets a new token and completes
#   5. every token refused from the 2nd upload request on: the push fails
#      clearly and the tag does not move
#   6. no secret in any debug output (strata -v -v, stratafs -d)
#
# strata run as root keeps its ECR token in /var/cache/stratafs/tokens, the
# machine's own cache, keyed by account, region and key id: the test runs in
# a private mount namespace with a tmpfs on /var/cache, so that neither an
# earlier run's token nor this run's leaks in or out (and the 0600 check
# looks at this run's file).
set -euo pipefail
if [ "${STRATAFS_TEST_MNTNS:-}" != "$$" ]; then
	# (the child's $$ is unshare's pid, which bash inherits through exec)
	exec unshare --mount --propagation private -- \
		bash -c 'export STRATAFS_TEST_MNTNS=$$; exec bash "$0" "$@"' "$0" "$@"
fi
. "$SRCDIR/tests/harness/lib.sh"
harness_init
. "$SRCDIR/tests/integration/aws/aws_lib.sh"
: "${STRATA:?}" "${STRATAFS:?}"
mkdir -p "$HARNESS_DIR/home"
mount -t tmpfs -o mode=0755 stratafs-test /var/cache ||
	harness_fail "cannot put a private tmpfs on /var/cache"

registry_start ecr
TOKLOG=$HARNESS_DIR/tokens.jsonl
: >"$TOKLOG"
# CodeBuild's relative URI comes with no authorization token.
standin_start api --session-token "$TEST_SESSION" --container-token "" --token-log "$TOKLOG"
front_start main --token-log "$TOKLOG"
FRONT=$FRONT_main
s3_requests() { front_count main ".side == \"s3\"${1:+ and $1}"; }
uploads() { front_count main '.side == "registry" and (.path | test("/blobs/uploads/")) and .method != "DELETE"'; }
up_basic=$(printf 'AWS:%s' "$TEST_ECR_PASS" | base64 -w0)
rcurl() { curl -sS --cacert "$REGISTRY_CA" -u "AWS:$TEST_ECR_PASS" "$@"; }
# the manifest digest a tag points at, asked of the registry itself
tag_digest() {
	rcurl -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"$REGISTRY_URL/v2/app/manifests/$1" | tr -d '\r' |
		sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}
manifest() {
	rcurl -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$REGISTRY_URL/v2/app/manifests/$1"
}

# --- the front checks tokens like ECR (no strata code involved) ------------
code() { curl -sS -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" "$@"; }
tap_is "$(code "https://$FRONT/v2/")" 401 "front: no credentials, 401"
tap_is "$(code -u "AWS:$TEST_ECR_PASS" "https://$FRONT/v2/")" 403 \
	"front: a password the stand-in never issued, 403 (expired token)"

# --- the environment CodeBuild gives: container credentials only ----------
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE DOCKER_CONFIG \
	AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN \
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE
export AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/build-0123
export STRATAFS_AWS_CONTAINER_HOST=$STANDIN_api_URL AWS_ENDPOINT_URL_ECR=$STANDIN_api_URL
export STRATAFS_ECR_HOST_ALIAS="$FRONT=123456789012/us-east-1"
export AWS_EC2_METADATA_DISABLED=true HOME=$HARNESS_DIR/home XDG_CACHE_HOME=$HARNESS_DIR/xdg
DBG=$HARNESS_DIR/debug.log # every strata -v -v and stratafs -d output
: >"$DBG"
spush() { # LOG ARGS...: strata push with debug output
	local log=$1 rc=0
	shift
	"$STRATA" push "$@" --ca-file "$REGISTRY_CA" -v -v >"$log.out" 2>"$log" || rc=$?
	cat "$log" >>"$DBG"
	return $rc
}

# The trees: a bit of everything, and a big incompressible file over
# several 256 KiB spans so that reading a small file fetches a fraction.
D1=$HARNESS_DIR/d1 D2=$HARNESS_DIR/d2
mkdir -p "$D1/src/sub" "$D1/empty" "$D2/ccache/0a"
printf 'hello from v1\n' >"$D1/a.txt"
seq 1 20000 >"$D1/src/numbers.txt"
head -c 3000000 /dev/urandom >"$D1/src/sub/big.bin"
printf '#!/bin/sh\necho hi\n' >"$D1/src/run.sh"
chmod 755 "$D1/src/run.sh"
ln -s ../a.txt "$D1/src/link"
printf 'object 1\n' >"$D2/ccache/0a/obj1.o"
head -c 200000 /dev/urandom >"$D2/ccache/0a/obj2.o"
printf 'hello from v2\n' >"$D2/b.txt"
touch -d @1700000000 "$D1" "$D2" && find "$D1" "$D2" -exec touch -h -d @1700000000 {} +

# --- 1. push with container credentials only -------------------------------
: >"$FRONT_main_LOG"
tap_ok "strata push DIR1 to the ECR host (container credentials only)" \
	spush "$HARNESS_DIR/push1.err" "$D1" "$FRONT/app:v1" --span-size 262144 --json
tap_ok "the container credentials endpoint was asked" test "$(standin_count api container 200)" -ge 1
tap_is "$(standin_count api ecr 200)" 1 "one GetAuthorizationToken (SigV4 + session token checked)"
tap_ok "uploads went through the front with a good token (POST 202, PUT 201)" \
	test "$(front_count main '.method == "POST" and .status == 202')" -ge 1 -a \
	"$(front_count main '.method == "PUT" and .status == 201')" -ge 1
tap_is "$(front_count main '.side == "registry" and (.status == 401 or .status == 403)')" 0 \
	"no request refused by the front"
M1=$(tag_digest v1)
tap_ok "app:v1 exists in the registry" test -n "$M1"
L1=$(manifest v1 | jq -r '.layers[0].digest')
tap_is "$(manifest v1 | jq '.layers | length')" 1 "app:v1 has one layer"
tap_is "$(jq -r '.manifest // .manifest_digest // empty' "$HARNESS_DIR/push1.err.out" 2>/dev/null || true)" \
	"$M1" "push --json names the manifest the tag points at"

# --- 2. push --base: the base layer is not sent again -----------------------
registry_log_mark
: >"$FRONT_main_LOG"
tap_ok "strata push DIR2 --base app:v1" \
	spush "$HARNESS_DIR/push2.err" "$D2" "$FRONT/app:v2" --base "$FRONT/app:v1" --span-size 262144
M2=$(tag_digest v2)
tap_is "$(manifest v2 | jq -c '[.layers[].digest][0]')" "\"$L1\"" "app:v2's first layer is app:v1's"
tap_is "$(manifest v2 | jq '.layers | length')" 2 "app:v2 has two layers"
L2=$(manifest v2 | jq -r '.layers[1].digest')
tap_is "$(registry_requests '' "/v2/app/blobs/uploads/.*${L1#sha256:}")" 0 \
	"registry log: the base layer was not uploaded again (nor mounted: HEAD says it is there)"
tap_is "$(registry_requests GET "/v2/app/blobs/${L1}")" 0 "registry log: nor downloaded"
tap_is "$(registry_requests PUT "/v2/app/blobs/uploads/.*${L2#sha256:}")" 1 \
	"registry log: the new layer was uploaded once"
tap_is "$(standin_count api ecr 200)" 1 "second push used the cached token"
tap_is "$(front_count main '.side == "registry" and (.status == 401 or .status == 403)')" 0 \
	"no request refused by the front"

# --- 3. mount the pushed image through ECR + S3 ----------------------------
MNT=$HARNESS_DIR/mnt CACHE=$HARNESS_DIR/fscache
mkdir -p "$MNT" "$CACHE"
harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"
FSLOG=$HARNESS_DIR/fs.log
: >"$FSLOG"
mount_ecr() { ecr_mount "$FRONT/app:v2" "$MNT" "$CACHE" "$FSLOG" -d; }
: >"$FRONT_main_LOG"
tap_ok "stratafs -d mounts app:v2 through the ECR path" mount_ecr
tap_ok "a.txt (layer 1) reads back" cmp "$MNT/a.txt" "$D1/a.txt"
tap_ok "b.txt (layer 2) reads back" cmp "$MNT/b.txt" "$D2/b.txt"
"$STRATA" stats "$MNT" --json >"$HARNESS_DIR/stats1.json" 2>>"$DBG" || true
tap_is "$(jq -r '[.layers[].index_source] | join(",")' "$HARNESS_DIR/stats1.json")" "registry,registry" \
	"both layer indexes came from the registry (pushed with the layers)"
tap_is "$(jq -r '.totals.index_build_bytes' "$HARNESS_DIR/stats1.json")" 0 \
	"no layer was streamed whole to build an index"
tap_ok "a fraction of the big layer was fetched for two small files" \
	jq -e --arg d "$L1" '.layers[] | select(.digest == $d) | .bytes_fetched > 0 and .bytes_fetched < .blob_size / 2' \
	"$HARNESS_DIR/stats1.json"
EXP=$HARNESS_DIR/expected
cp -a "$D1" "$EXP" && cp -a "$D2/." "$EXP/"
tap_ok "the whole tree equals DIR1 + DIR2 (content, symlinks)" diff -r --no-dereference "$EXP" "$MNT"
tap_is "$(stat -c %a "$MNT/src/run.sh")" 755 "modes kept"
tap_is "$(readlink "$MNT/src/link")" ../a.txt "symlink target kept"
"$STRATA" stats "$MNT" --json >"$HARNESS_DIR/stats2.json" 2>>"$DBG" || true
tap_is "$(jq -r '.totals.errors' "$HARNESS_DIR/stats2.json")" 0 "no read errors"
tap_ok "blob bytes came from the S3 side" test "$(s3_requests)" -gt 0
tap_is "$(s3_requests ".range == null and .method == \"GET\" and (.path | test(\"$L1|$L2\"))")" 0 \
	"every S3 GET of a layer was a Range request (no whole-layer download)"
tap_is "$(s3_requests '.auth == true')" 0 "no request to S3 carried Authorization"
tap_is "$(find "$CACHE/tokens" -name 'ecr-123456789012-us-east-1-*.json' -perm 600 | wc -l)" 1 \
	"the mount's ECR token is cached, mode 0600"
tap_is "$(find /var/cache/stratafs/tokens -name 'ecr-123456789012-us-east-1-*.json' -perm 600 | wc -l)" 1 \
	"strata's ECR token is cached, mode 0600"
tap_is "$(stat -c %a "$CACHE/tokens")" 700 "token dir mode 0700"
fusermount3 -u "$MNT" || true

# --- 4. the token expires mid-push: a new one is fetched, the push completes
D3=$HARNESS_DIR/d3
mkdir -p "$D3"
printf 'hello from v3\n' >"$D3/c.txt"
front_start exp --token-log "$TOKLOG" --revoke-at-upload 2
export STRATAFS_ECR_HOST_ALIAS="$FRONT_exp=123456789012/us-east-1"
n0=$(standin_count api ecr 200)
tap_ok "push with the token revoked at its 2nd upload request: completes" \
	spush "$HARNESS_DIR/push3.err" "$D3" "$FRONT_exp/app:v3" --base "$FRONT_exp/app:v2"
tap_is "$(front_count exp '.event == "revoke"')" 1 "the front revoked the token mid-push"
tap_is "$(front_count exp '.status == 403')" 1 "one request was refused with 403 DENIED"
tap_is "$(($(standin_count api ecr 200) - n0))" 1 "the push fetched one new token"
tap_is "$(manifest v3 | jq -c '[.layers[].digest][0:2]')" "$(manifest v2 | jq -c '[.layers[].digest]')" \
	"app:v3 sits on app:v2's layers"
tap_is "$(manifest v3 | jq '.layers | length')" 3 "app:v3 has three layers"

# --- 5. every token refused from the 2nd upload on: clear error, tag kept ---
D4=$HARNESS_DIR/d4
mkdir -p "$D4"
printf 'never\n' >"$D4/never.txt"
front_start dead --token-log "$TOKLOG" --revoke-at-upload 2 --revoke-forever
export STRATAFS_ECR_HOST_ALIAS="$FRONT_dead=123456789012/us-east-1"
tap_not "push while every token is refused: fails" \
	spush "$HARNESS_DIR/push4.err" "$D4" "$FRONT_dead/app:v2" --base "$FRONT_dead/app:v1"
tap_ok "the error says the registry denied the token" \
	grep -qiE 'error: .*(403|denied|expired)' "$HARNESS_DIR/push4.err"
tap_is "$(tag_digest v2)" "$M2" "app:v2 did not move"
tap_is "$(front_count dead '.method == "PUT" and (.path | test("/manifests/"))')" 0 \
	"no manifest PUT reached the registry"

# --- 6. no secret in any debug output ---------------------------------------
cat "$FSLOG" >>"$DBG"
for f in "$HARNESS_DIR"/push*.err.out; do cat "$f" >>"$DBG"; done
tap_ok "debug output is there (strata -v -v and stratafs -d)" \
	bash -c "grep -q 'strata: debug' '$DBG' && grep -qE 'unique: [0-9]+|opcode' '$DBG'"
tap_ok "no credential in strata -v -v / stratafs -d output" no_secret_in "$DBG"
secrets_absent() {
	local pw b64
	grep -qF -- "$up_basic" "$DBG" && { echo "upstream basic-auth value found"; return 1; }
	while read -r pw; do
		b64=$(printf 'AWS:%s' "$pw" | base64 -w0)
		grep -qF -- "$pw" "$DBG" && { echo "issued ECR password found"; return 1; }
		grep -qF -- "$b64" "$DBG" && { echo "issued ECR token found"; return 1; }
	done < <(jq -r .password "$TOKLOG")
	return 0
}
tap_ok "tokens issued: $(wc -l <"$TOKLOG"), none of them (nor the Basic value) in any debug log" secrets_absent
tap_ok "no sanitizer report" bash -c "! grep -qE 'Sanitizer|runtime error:' '$DBG'"
tap_done
