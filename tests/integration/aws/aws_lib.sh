# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Helpers of tests/integration/aws, sourced after tests/harness/lib.sh.
#
#   standin_start NAME [ecr_standin.py options...]
#       start ecr_standin.py with the test keys below; sets
#       STANDIN_<NAME>_URL, STANDIN_<NAME>_LOG, STANDIN_<NAME>_PID
#   standin_count NAME KIND [STATUS]   requests of that kind (ecr, container, imds)
#   driver [options] HOST   run ecr_token_get with a clean environment plus
#                           "${DRIVER_ENV[@]}"; stdout to $DRIVER_OUT,
#                           stderr to $DRIVER_ERR (appended to $ALL_ERR)
#   no_secret_in FILE       fails when a test secret appears in FILE
#   registry_start ecr      (variant defined here) TLS + htpasswd, user AWS,
#                           password = the stand-in's token password

TEST_AKID=AKIDSTRATAFSTEST0001
TEST_SECRET='wJalr/stratafs+TEST/secretKEY0001'
# Real STS session tokens run to 1-2 KB: make ours that long too.
TEST_SESSION="IQoJb3JpZ2luX2VjEHstratafs/session+token//$(head -c 1400 /dev/urandom | base64 -w0)"
TEST_ECR_PASS="ecr-pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TEST_CONTAINER_TOKEN="ctok-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ECR_HOST=123456789012.dkr.ecr.us-east-1.amazonaws.com
DRIVER=${DRIVER:-$BUILDDIR/tests/unit/aws/ecr_token_get}
STANDIN_PY=$SRCDIR/tests/integration/aws/ecr_standin.py
ALL_ERR=$HARNESS_DIR/all-stderr.log
: >"$ALL_ERR"

standin_start() {
	local name=$1 dir i port
	shift
	dir=$HARNESS_DIR/standin-$name
	mkdir -p "$dir"
	: >"$dir/log"
	/usr/bin/python3 "$STANDIN_PY" --port-file "$dir/port" --log "$dir/log" \
		--akid "$TEST_AKID" --secret "$TEST_SECRET" --password "$TEST_ECR_PASS" \
		--container-token "$TEST_CONTAINER_TOKEN" "$@" >"$dir/out" 2>&1 &
	HARNESS_PIDS="$HARNESS_PIDS $!"
	eval "STANDIN_${name}_PID=$!"
	wait_port_file "$dir/port" "$dir/out" "ecr stand-in '$name'"
	port=$(cat "$dir/port")
	local scheme=http
	case " $* " in *" --tls-cert "*) scheme=https ;; esac
	eval "STANDIN_${name}_URL=$scheme://127.0.0.1:$port"
	eval "STANDIN_${name}_LOG=$dir/log"
}

standin_count() {
	local log
	eval "log=\$STANDIN_${1}_LOG"
	if [ $# -gt 2 ]; then
		jq -c "select(.kind == \"$2\" and .status == $3)" "$log" | wc -l
	else
		jq -c "select(.kind == \"$2\")" "$log" | wc -l
	fi
}

DRIVER_ENV=()
DRIVER_OUT=$HARNESS_DIR/driver.out
DRIVER_ERR=$HARNESS_DIR/driver.err

driver() {
	local rc=0
	env -i PATH=/usr/bin:/bin HOME="$HARNESS_DIR/home" AWS_EC2_METADATA_DISABLED=true \
		"${DRIVER_ENV[@]}" "$DRIVER" "$@" >"$DRIVER_OUT" 2>"$DRIVER_ERR" || rc=$?
	cat "$DRIVER_ERR" >>"$ALL_ERR"
	return $rc
}

# The driver printed the stand-in's user and password.
driver_got_token() {
	[ "$(sed -n 1p "$DRIVER_OUT")" = AWS ] || return 1
	[ "$(sed -n 2p "$DRIVER_OUT")" = "$TEST_ECR_PASS" ] || return 1
}

no_secret_in() {
	local f=$1 s b64
	b64=$(printf 'AWS:%s' "$TEST_ECR_PASS" | base64 -w0)
	for s in "$TEST_SECRET" "$TEST_SESSION" "$TEST_ECR_PASS" "$b64" "$TEST_CONTAINER_TOKEN" \
		"$TEST_AKID" "Authorization: Basic" "Authorization: AWS4" "Authorization: Bearer" \
		"QVdTO" ", Signature="; do
		if grep -qF -- "$s" "$f"; then
			echo "secret-like string '${s:0:6}...' found in $f"
			return 1
		fi
	done
}

# The "ecr" registry variant: like lib_auth.sh's basic one, but the user is
# AWS and the password is the one the stand-in's token decodes to, as on ECR.
registry_variant_ecr() {
	local dir=$1 port=$2
	harness_ca
	REGISTRY_URL="https://127.0.0.1:$port"
	REGISTRY_USER=AWS
	REGISTRY_PASS=$TEST_ECR_PASS
	htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASS" >"$dir/htpasswd" 2>/dev/null ||
		harness_fail "htpasswd failed"
	write_registry_config "$dir" "$port" "  tls:
    certificate: $HARNESS_CA_DIR/server.crt
    key: $HARNESS_CA_DIR/server.key
auth:
  htpasswd:
    realm: https://127.0.0.1:$port/
    path: $dir/htpasswd"
}

# front_start NAME [s3_redirect_proxy.py options...]
#       the ECR-like front (s3_redirect_proxy.py) of the current registry,
#       which must be the "ecr" variant; sets FRONT_<NAME> (host:port),
#       FRONT_<NAME>_LOG, FRONT_<NAME>_PID. A front that cannot start fails
#       the test.
front_start() {
	local name=$1 dir i
	shift
	dir=$HARNESS_DIR/front-$name
	mkdir -p "$dir"
	: >"$dir/log"
	/usr/bin/python3 "$SRCDIR/tests/integration/aws/s3_redirect_proxy.py" \
		--port-file "$dir/port" --s3-port-file "$dir/s3port" --upstream "$REGISTRY_URL" \
		--ca "$REGISTRY_CA" --tls-cert "$HARNESS_CA_DIR/server.crt" --tls-key "$HARNESS_CA_DIR/server.key" \
		--user AWS --password "$TEST_ECR_PASS" --log "$dir/log" "$@" >"$dir/out" 2>&1 &
	HARNESS_PIDS="$HARNESS_PIDS $!"
	eval "FRONT_${name}_PID=$!"
	wait_port_file "$dir/port" "$dir/out" "ECR front '$name'"
	eval "FRONT_${name}=127.0.0.1:$(cat "$dir/port")"
	eval "FRONT_${name}_LOG=$dir/log"
}

# front_count NAME JQ-CONDITION   requests in that front's log matching it
front_count() {
	local log
	eval "log=\$FRONT_${1}_LOG"
	jq -c "select($2)" "$log" | wc -l
}

# ecr_mount REF MNT CACHE LOG FLAG: stratafs REF on MNT through the ECR path
# (CA of the harness, -o cache=CACHE, debug log appended to LOG), in the
# foreground with FLAG (-f, or -d to trace FUSE too); 0 once mounted (10 s).
ecr_mount() {
	local i
	"$STRATAFS" "$1" "$2" -o "ca_file=$REGISTRY_CA,cache=$3,log=debug" "$5" >>"$4" 2>&1 &
	HARNESS_PIDS="$HARNESS_PIDS $!"
	for i in $(seq 1 100); do
		grep -q " $2 fuse.stratafs " /proc/mounts && return 0
		sleep 0.1
	done
	return 1
}
