#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The CodeBuild recipe, run: examples/codebuild/buildspec.yml's pre_build,
# build and post_build commands (install skipped: stratafs is built, and
# $BUILDDIR's strata/stratafs come first on PATH), by codebuild_run.py the
# way CodeBuild runs them, twice in a row, against ECR, S3 and the
# container credentials endpoint played on loopback.
#
# The buildspec is not edited and has no test hook: the differences from a
# real CodeBuild host are all in the environment, inside a private network
# and mount namespace (unshare):
#   - /etc/hosts (bind-mounted) resolves 123456789012.dkr.ecr.us-east-1.amazonaws.com
#     to the ECR front (s3_redirect_proxy.py on 127.0.0.3:443, a real
#     distribution registry behind it, blob GETs redirected to an S3
#     stand-in) and api.ecr.us-east-1.amazonaws.com to the
#     GetAuthorizationToken stand-in (127.0.0.2:443, SigV4 checked);
#   - 169.254.170.2:80 on lo is the container credentials endpoint, as in
#     CodeBuild, reached through AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
#   - the system CA bundle (bind-mounted) also trusts the test CA;
#   - /var/cache is a fresh tmpfs per build (a fresh build container), so
#     the second build finds nothing local: all it sees comes from "ECR".
# No STRATAFS_* variable is set: the tools take the real AWS code paths.
#
# The project: a Makefile whose "build" records what the cache held, reads
# the previous build's object, deletes one cache file, re-creates a
# directory (overlay: opaque) and writes new objects into $CCACHE_DIR.
# Checks: build 2 saw build 1's files through the lazy mount; the cache tag
# then has 2 layers; its tree (mounted with stratafs) equals the same two
# builds run on a plain directory.
set -euo pipefail
if [ "${STRATAFS_TEST_NETNS:-}" != "$$" ]; then
	exec unshare --mount --net --propagation private -- \
		bash -c 'export STRATAFS_TEST_NETNS=$$; exec bash "$0" "$@"' "$0" "$@"
fi
. "$SRCDIR/tests/harness/lib.sh"
harness_init
. "$SRCDIR/tests/integration/aws/aws_lib.sh"
: "${STRATA:?}" "${STRATAFS:?}"
mkdir -p "$HARNESS_DIR/home" "$HARNESS_DIR/tmp"
ECR_API_HOST=api.ecr.us-east-1.amazonaws.com
ACCOUNT=123456789012

# --- the namespace: loopback up, CodeBuild's link-local address on it -------
ip link set lo up || harness_fail "cannot bring lo up in the network namespace"
ip addr add 169.254.170.2/32 dev lo || harness_fail "cannot add 169.254.170.2 to lo"
mount -t tmpfs -o mode=0755 stratafs-test /var/cache || harness_fail "cannot put a tmpfs on /var/cache"
# a build that died half way leaves its overlay and stratafs mounts: drop them (innermost first)
harness_on_exit "awk -v d='$HARNESS_DIR/' 'index(\$2, d) == 1 { print \$2 }' /proc/mounts | sort -r |
	while read -r m; do umount -l \"\$m\" 2>/dev/null; done"

registry_start ecr
# one certificate for the ECR registry host, the ECR API host and 127.0.0.1 (S3 side)
(
	cd "$HARNESS_CA_DIR" &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout aws.key -out aws.csr -subj "/CN=$ECR_HOST" &&
		printf 'subjectAltName=DNS:%s,DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
			"$ECR_HOST" "$ECR_API_HOST" >aws.ext &&
		openssl x509 -req -in aws.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
			-out aws.crt -extfile aws.ext
) >"$HARNESS_DIR/openssl.log" 2>&1 || { cat "$HARNESS_DIR/openssl.log" >&2; harness_fail "cannot make the AWS host certificate"; }
printf '127.0.0.1 localhost\n127.0.0.3 %s\n127.0.0.2 %s\n' "$ECR_HOST" "$ECR_API_HOST" >"$HARNESS_DIR/hosts"
mount --bind "$HARNESS_DIR/hosts" /etc/hosts || harness_fail "cannot bind-mount /etc/hosts"
SYS_BUNDLE=/etc/ssl/certs/ca-certificates.crt
cat "$SYS_BUNDLE" "$REGISTRY_CA" >"$HARNESS_DIR/bundle.crt"
mount --bind "$HARNESS_DIR/bundle.crt" "$SYS_BUNDLE" || harness_fail "cannot bind-mount the CA bundle"

standin_start api --bind 127.0.0.2 --port 443 --tls-cert "$HARNESS_CA_DIR/aws.crt" \
	--tls-key "$HARNESS_CA_DIR/aws.key" --session-token "$TEST_SESSION"
standin_start ctr --bind 169.254.170.2 --port 80 --session-token "$TEST_SESSION" --container-token ""
front_start main --bind 127.0.0.3 --port 443 --tls-cert "$HARNESS_CA_DIR/aws.crt" --tls-key "$HARNESS_CA_DIR/aws.key"
CACHE_REF=$ECR_HOST/app:build-cache

# --- the environment works like AWS's (no stratafs code involved) ----------
tap_is "$(curl -sS -o /dev/null -w '%{http_code}' -u "AWS:$TEST_ECR_PASS" "https://$ECR_HOST/v2/")" 200 \
	"https://$ECR_HOST/ answers with the system CA bundle (the front)"
tap_is "$(curl -sS "http://169.254.170.2/v2/credentials/x" | jq -r .AccessKeyId)" "$TEST_AKID" \
	"http://169.254.170.2 serves container credentials"
tap_is "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "https://$ECR_API_HOST/")" 400 \
	"https://$ECR_API_HOST/ is the ECR API stand-in"
: >"$FRONT_main_LOG"

# --- the project ------------------------------------------------------------
PROJ=$HARNESS_DIR/project
mkdir -p "$PROJ"
head -c 1500000 /dev/urandom >"$PROJ/big.src"
cat >"$PROJ/Makefile" <<'EOF'
# A stand-in build: what a compiler cache would do to $(CCACHE_DIR).
N := $(CODEBUILD_BUILD_NUMBER)
OUT ?= .
all:
	test -n "$(CCACHE_DIR)" && test -d "$(CCACHE_DIR)"
	cd "$(CCACHE_DIR)" && find . -mindepth 1 | sort >"$(abspath $(OUT))/seen-before-$(N).txt"
	if [ -f "$(CCACHE_DIR)/objs/obj1.o" ]; then sha256sum <"$(CCACHE_DIR)/objs/obj1.o" >"$(abspath $(OUT))/obj1-read-$(N).txt"; fi
	rm -f "$(CCACHE_DIR)/stale.txt"
	rm -rf "$(CCACHE_DIR)/tmp"
	mkdir -p "$(CCACHE_DIR)/objs" "$(CCACHE_DIR)/tmp"
	cp big.src "$(CCACHE_DIR)/objs/obj$(N).o"
	echo "build $(N)" >"$(CCACHE_DIR)/tmp/only-$(N).txt"
	echo "stale from build $(N)" >"$(CCACHE_DIR)/stale.txt"
	echo "$(N)" >>"$(CCACHE_DIR)/builds.log"
EOF

# The same two builds on a plain directory: the tree the cache must hold.
EXP=$HARNESS_DIR/expected
mkdir -p "$EXP/ccache" "$EXP/npm" "$EXP/m2"
for n in 1 2; do
	make -s -C "$PROJ" CCACHE_DIR="$EXP/ccache" CODEBUILD_BUILD_NUMBER=$n OUT="$HARNESS_DIR/tmp" \
		>/dev/null || harness_fail "the project does not build on a plain directory"
done

# --- two CodeBuild builds ---------------------------------------------------
build() { # N: one build in a fresh "container"
	local n=$1 rc=0
	umount /var/cache && mount -t tmpfs -o mode=0755 stratafs-test /var/cache || return 91
	env -i PATH="$BUILDDIR/tools:$BUILDDIR/fs:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		HOME="$HARNESS_DIR/home" TMPDIR="$HARNESS_DIR/tmp" LANG=C.UTF-8 \
		CODEBUILD_BUILD_ARN="arn:aws:codebuild:us-east-1:$ACCOUNT:build/app-build:0b5e$n-1111-2222-3333-444455556666" \
		CODEBUILD_BUILD_ID="app-build:0b5e$n-1111-2222-3333-444455556666" CODEBUILD_BUILD_NUMBER=$n \
		CODEBUILD_BUILD_SUCCEEDING=1 CODEBUILD_SRC_DIR="$PROJ" CODEBUILD_INITIATOR=test \
		AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
		AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="${BAD_CREDS:+/no-such-path}/v2/credentials/build-$n" \
		ECR_REPO=app CACHE_TAG=build-cache CACHE_ROOT="$HARNESS_DIR/b$n/cache" \
		/usr/bin/python3 "$SRCDIR/tests/integration/aws/codebuild_run.py" \
		"$SRCDIR/examples/codebuild/buildspec.yml" --skip install --status "$HARNESS_DIR/b$n.status" \
		>"$HARNESS_DIR/b$n.log" 2>&1 || rc=$?
	cat "$HARNESS_DIR/b$n.log" >>"$ALL_ERR"
	return $rc
}
phases() { jq -r '[.install, .pre_build, .build, .post_build, .build] | join(",")' "$HARNESS_DIR/b$1.status"; }
# the tag's manifest, asked of the registry itself
tag_layers() {
	curl -sS --cacert "$REGISTRY_CA" -u "AWS:$TEST_ECR_PASS" \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"$REGISTRY_URL/v2/app/manifests/build-cache" | jq '.layers | length'
}

tap_ok "build 1 (no cache yet) succeeds" build 1
tap_is "$(phases 1)" "SKIPPED,SUCCEEDED,SUCCEEDED,SUCCEEDED,SUCCEEDED" "build 1: phases"
tap_ok "build 1 started empty (the mount said the tag is not there)" \
	grep -q "no build cache at $CACHE_REF yet" "$HARNESS_DIR/b1.log"
tap_is "$(cat "$PROJ/seen-before-1.txt")" "" "build 1's cache dir was empty"
tap_is "$(tag_layers)" 1 "build 1 committed the cache tag: one layer"
tap_ok "build 1: no mount left behind" bash -c "! grep -q '$HARNESS_DIR/b1' /proc/mounts"
ctr_asked() { jq -c "select(.path == \"/v2/credentials/$1\" and .status == 200)" "$STANDIN_ctr_LOG" | wc -l; }
tap_ok "build 1: AWS credentials from http://169.254.170.2\$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" \
	test "$(ctr_asked build-1)" -ge 1
tap_is "$(standin_count api ecr 200)" 1 "build 1: one GetAuthorizationToken (mount and commit share the token)"

tap_ok "build 2 succeeds" build 2
tap_is "$(phases 2)" "SKIPPED,SUCCEEDED,SUCCEEDED,SUCCEEDED,SUCCEEDED" "build 2: phases"
tap_ok "build 2 mounted the cache" bash -c "! grep -q 'no build cache' '$HARNESS_DIR/b2.log'"
tap_is "$(cat "$PROJ/seen-before-2.txt")" "$(cat "$HARNESS_DIR/tmp/seen-before-2.txt")" \
	"build 2 saw build 1's cache files through the lazy mount"
tap_ok "(build 1's files: obj1.o, stale.txt, tmp/only-1.txt)" \
	grep -qx './tmp/only-1.txt' "$PROJ/seen-before-2.txt"
tap_is "$(cut -d' ' -f1 <"$PROJ/obj1-read-2.txt")" "$(sha256sum <"$PROJ/big.src" | cut -d' ' -f1)" \
	"build 2 read build 1's object back intact"
tap_ok "build 2's strata stats: the layer's index came from the registry" \
	grep -qE '^ +[0-9a-f]{12} +[a-z]+ +registry ' "$HARNESS_DIR/b2.log"
tap_is "$(find /var/cache/stratafs/tokens -name "ecr-$ACCOUNT-us-east-1-*.json" -perm 600 | wc -l)" 1 \
	"build 2's ECR token is cached in \$STRATAFS_CACHE/tokens, mode 0600"
tap_is "$(tag_layers)" 2 "after build 2 the cache tag has 2 layers"
tap_ok "build 2: no mount left behind" bash -c "! grep -q '$HARNESS_DIR/b2' /proc/mounts"
tap_ok "build 2: credentials from 169.254.170.2 again (a new container)" test "$(ctr_asked build-2)" -ge 1
tap_is "$(standin_count api ecr 200)" 2 "build 2: one more GetAuthorizationToken"

# --- a build that cannot mount the cache (no credentials) commits nothing --
M2=$(curl -sS -I --cacert "$REGISTRY_CA" -u "AWS:$TEST_ECR_PASS" \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' "$REGISTRY_URL/v2/app/manifests/build-cache" |
	tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
BAD_CREDS=1
tap_ok "build 3 (container credentials endpoint answers 404) still builds" build 3
tap_ok "build 3 said why it runs without the cache" \
	grep -q "cannot mount the build cache: building without it, not committing" "$HARNESS_DIR/b3.log"
tap_is "$(cat "$PROJ/seen-before-3.txt")" "" "build 3 ran on an empty cache dir"
tap_is "$(curl -sS -I --cacert "$REGISTRY_CA" -u "AWS:$TEST_ECR_PASS" \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' "$REGISTRY_URL/v2/app/manifests/build-cache" |
	tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')" "$M2" \
	"build 3 did not replace the cache (tag unmoved)"
BAD_CREDS=

# --- the cache tag's tree ----------------------------------------------------
MNT=$HARNESS_DIR/mnt
mkdir -p "$MNT"
harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"
tap_ok "stratafs mounts the cache tag by its ECR name" \
	env AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/check HOME="$HARNESS_DIR/home" \
	"$STRATAFS" "$CACHE_REF" "$MNT" -o "cache=$HARNESS_DIR/fscache"
tap_ok "its tree equals the two builds run on a plain directory" diff -r --no-dereference "$EXP" "$MNT"
tap_is "$(ls -A "$MNT/ccache/tmp")" "only-2.txt" "the re-created directory is opaque over build 1's"
tap_ok "the deleted-then-rewritten file holds build 2's content" \
	grep -qx "stale from build 2" "$MNT/ccache/stale.txt"
fusermount3 -u "$MNT" || true
tap_is "$(front_count main '.side == "s3" and .auth == true')" 0 "no request to S3 carried Authorization"
tap_ok "no credential in the build logs" no_secret_in "$ALL_ERR"
tap_done
