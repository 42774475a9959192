# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# Registry variants with TLS and authentication, sourced by lib.sh.
#
#   tls         HTTPS, server cert for 127.0.0.1 from a throwaway CA
#               ($REGISTRY_CA); STRATA_REG_OPTS=(--ca-file $REGISTRY_CA)
#   basic       tls + htpasswd (bcrypt) basic auth, $REGISTRY_USER/$REGISTRY_PASS;
#               STRATA_REG_OPTS adds --username U --password-stdin, so
#               run strata as:  strata ... <<<"$REGISTRY_PASS"
#   token       tls + distribution `auth: token`; realm = token_issuer.py on
#               HTTPS (same CA), which wants Basic $REGISTRY_USER:$REGISTRY_PASS,
#               logs every scope asked for to $TOKEN_LOG; token_expires_in N
#               changes the lifetime of the next tokens.
#   basic-http, token-http   the same over plain HTTP (e.g. behind the fault
#               proxy); STRATA_REG_OPTS starts with --insecure.
#
# distribution 2.8.2 does not require TLS for basic auth (checked: htpasswd
# over plain HTTP works); the main variants use TLS anyway, as real
# registries do.

# harness_ca: make (once per harness dir) a CA, a server cert for 127.0.0.1
# and a token-signing cert, all signed by that CA. Sets HARNESS_CA_DIR,
# REGISTRY_CA (CA file) and HARNESS_CERT_DIR (a directory holding only
# ca.crt, for skopeo --dest-cert-dir/--src-cert-dir).
harness_ca() {
	local d="$HARNESS_DIR/ca"
	HARNESS_CA_DIR=$d
	HARNESS_CERT_DIR=$d/certs.d
	REGISTRY_CA=$d/ca.crt
	[ -f "$d/done" ] && return 0
	mkdir -p "$d/certs.d"
	(
		set -e
		cd "$d"
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout ca.key -out ca.crt -days 2 -subj "/CN=stratafs test CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign"
		leaf() { # NAME SUBJECT EXT
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-keyout "$1.key" -out "$1.csr" -subj "$2"
			printf '%s\n' "$3" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
				-days 2 -out "$1.crt" -extfile "$1.ext"
		}
		leaf server "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
		# distribution verifies the x5c chain with Go's default key usage
		# (serverAuth), so the signer carries it.
		leaf signer "/CN=stratafs test token signer" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
		cp ca.crt certs.d/ca.crt
	) >"$d/openssl.log" 2>&1 || {
		cat "$d/openssl.log" >&2
		harness_fail "cannot make the test CA"
	}
	touch "$d/done"
}

_tls_yaml() {
	printf '  tls:\n    certificate: %s\n    key: %s\n' \
		"$HARNESS_CA_DIR/server.crt" "$HARNESS_CA_DIR/server.key"
}

# _variant_common DIR PORT SCHEME: URL and client options of a (TLS) variant.
_variant_common() {
	local port=$2 scheme=$3
	if [ "$scheme" = https ]; then
		harness_ca
		REGISTRY_URL="https://127.0.0.1:$port"
		STRATA_REG_OPTS=(--ca-file "$REGISTRY_CA")
		SKOPEO_DEST_OPTS=(--dest-cert-dir "$HARNESS_CERT_DIR")
		SKOPEO_SRC_OPTS=(--src-cert-dir "$HARNESS_CERT_DIR")
		REGISTRY_TLS_YAML=$(_tls_yaml)
	else
		REGISTRY_URL="http://127.0.0.1:$port"
		STRATA_REG_OPTS=(--insecure)
		SKOPEO_DEST_OPTS=(--dest-tls-verify=false)
		SKOPEO_SRC_OPTS=(--src-tls-verify=false)
		REGISTRY_TLS_YAML=""
	fi
}

_variant_creds() {
	REGISTRY_USER=stratauser
	REGISTRY_PASS="pw-$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	STRATA_REG_OPTS+=(--username "$REGISTRY_USER" --password-stdin)
	SKOPEO_DEST_OPTS+=(--dest-creds "$REGISTRY_USER:$REGISTRY_PASS")
	SKOPEO_SRC_OPTS+=(--src-creds "$REGISTRY_USER:$REGISTRY_PASS")
}

registry_variant_tls() {
	_variant_common "$1" "$2" https
	write_registry_config "$1" "$2" "$REGISTRY_TLS_YAML"
}

_variant_basic() { # DIR PORT SCHEME
	_variant_common "$1" "$2" "$3"
	_variant_creds
	htpasswd -Bbn "$REGISTRY_USER" "$REGISTRY_PASS" >"$1/htpasswd" 2>/dev/null ||
		harness_fail "htpasswd failed"
	write_registry_config "$1" "$2" "$REGISTRY_TLS_YAML
auth:
  htpasswd:
    realm: stratafs-test
    path: $1/htpasswd"
}
registry_variant_basic() { _variant_basic "$1" "$2" https; }
registry_variant_basic-http() { _variant_basic "$1" "$2" http; }

# Token variant. The issuer runs before the registry (the realm goes into
# its config). TOKEN_URL, TOKEN_LOG, TOKEN_SERVICE are set.
_variant_token() { # DIR PORT SCHEME
	local dir=$1 scheme=$3 i tls_args=()
	_variant_common "$1" "$2" "$scheme"
	_variant_creds
	harness_ca
	TOKEN_LOG="$dir/token.log"
	TOKEN_SERVICE=stratafs-test-registry
	TOKEN_EXPIRES_FILE="$dir/token-expires-in"
	: >"$TOKEN_LOG"
	echo "${TOKEN_EXPIRES_IN:-300}" >"$TOKEN_EXPIRES_FILE"
	if [ "$scheme" = https ]; then
		tls_args=(--tls-cert "$HARNESS_CA_DIR/server.crt" --tls-key "$HARNESS_CA_DIR/server.key")
	fi
	"$PY" "$HARNESS_LIB_DIR/token_issuer.py" --port-file "$dir/token.port" \
		"${tls_args[@]}" \
		--key "$HARNESS_CA_DIR/signer.key" --cert "$HARNESS_CA_DIR/signer.crt" \
		--service "$TOKEN_SERVICE" --issuer stratafs-test-issuer \
		--user "$REGISTRY_USER" --password "$REGISTRY_PASS" \
		--expires-file "$TOKEN_EXPIRES_FILE" --log "$TOKEN_LOG" \
		>"$dir/token-issuer.out" 2>&1 &
	REGISTRY_AUX_PIDS="$REGISTRY_AUX_PIDS $!"
	HARNESS_PIDS="$HARNESS_PIDS $!"
	wait_port_file "$dir/token.port" "$dir/token-issuer.out" "token issuer"
	TOKEN_URL="$scheme://127.0.0.1:$(cat "$dir/token.port")/token"
	write_registry_config "$dir" "$2" "$REGISTRY_TLS_YAML
auth:
  token:
    realm: $TOKEN_URL
    service: $TOKEN_SERVICE
    issuer: stratafs-test-issuer
    rootcertbundle: $HARNESS_CA_DIR/ca.crt"
}
registry_variant_token() { _variant_token "$1" "$2" https; }
registry_variant_token-http() { _variant_token "$1" "$2" http; }

# token_expires_in SECONDS: lifetime of the tokens issued from now on.
# The issuer moves the JWT's exp back by distribution's 60 s leeway, so a
# token really stops working SECONDS after it was issued.
token_expires_in() {
	echo "$1" >"$TOKEN_EXPIRES_FILE"
}

# token_scopes: every scope the issuer was asked for, one per line, in order.
token_scopes() {
	jq -r '.scopes[]' "$TOKEN_LOG"
}

# token_requests [STATUS]: number of token requests (with that status).
token_requests() {
	if [ $# -gt 0 ]; then
		jq -c "select(.status == $1)" "$TOKEN_LOG" | wc -l
	else
		wc -l <"$TOKEN_LOG"
	fi
}

# token_get SCOPE...: a bearer token for these scopes (for curl).
token_get() {
	local q="service=$TOKEN_SERVICE" s
	for s in "$@"; do
		q="$q&scope=$s"
	done
	curl -fsS ${REGISTRY_CA:+--cacert "$REGISTRY_CA"} \
		-u "$REGISTRY_USER:$REGISTRY_PASS" "$TOKEN_URL?$q" | jq -r .token
}

# registry_curl PATH|URL [curl args...]: curl $REGISTRY_URL$PATH (or URL,
# e.g. an upload Location) with the variant's CA and credentials (for token
# variants: a pull,push token for the /v2/NAME/... repository).
registry_curl() {
	local url=$1 auth=() name path
	shift
	case "$url" in
	http://* | https://*) ;;
	*) url="$REGISTRY_URL$url" ;;
	esac
	path=/${url#*://*/}
	case "$REGISTRY_VARIANT" in
	token*)
		name=$(printf '%s' "$path" | sed -nE 's#^/v2/(.+)/(manifests|blobs|tags)/.*#\1#p')
		if [ -n "$name" ]; then
			auth=(-H "Authorization: Bearer $(token_get "repository:$name:pull,push")")
		else
			auth=(-H "Authorization: Bearer $(token_get)")
		fi
		;;
	*)
		# basic, and any variant (e.g. one a test defines) with a user
		if [ -n "${REGISTRY_USER:-}" ]; then
			auth=(-u "$REGISTRY_USER:$REGISTRY_PASS")
		fi
		;;
	esac
	curl -sS ${REGISTRY_CA:+--cacert "$REGISTRY_CA"} "${auth[@]}" "$@" "$url"
}

# registry_push_blob REPO FILE: upload FILE as a blob (HEAD, then POST + a
# monolithic PUT) unless present; prints its digest.
registry_push_blob() {
	local repo=$1 file=$2 digest code loc sep
	digest="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
	code=$(registry_curl "/v2/$repo/blobs/$digest" -I -o /dev/null -w '%{http_code}')
	if [ "$code" != 200 ]; then
		loc=$(registry_curl "/v2/$repo/blobs/uploads/" -X POST -o /dev/null -D - |
			sed -nE 's/^[Ll]ocation: *([^\r]*)\r?$/\1/p')
		[ -n "$loc" ] || return 1
		case "$loc" in /*) loc="$REGISTRY_URL$loc" ;; esac
		sep='?'
		case "$loc" in *\?*) sep='&' ;; esac
		code=$(registry_curl "$loc${sep}digest=$digest" -X PUT -o /dev/null -w '%{http_code}' \
			-H 'Content-Type: application/octet-stream' --data-binary "@$file")
		[ "$code" = 201 ] || {
			echo "registry_push_blob: PUT of '$digest' to '$repo': HTTP $code" >&2
			return 1
		}
	fi
	printf '%s\n' "$digest"
}

# registry_push_manifest REPO REF FILE MEDIATYPE: PUT FILE's bytes verbatim;
# prints the HTTP status and the body; fails unless 201.
registry_push_manifest() {
	local out code
	out=$(registry_curl "/v2/$1/manifests/$2" -X PUT -H "Content-Type: $4" \
		--data-binary "@$3" -w '\n%{http_code}')
	code=${out##*$'\n'}
	printf '%s\n' "$out"
	[ "$code" = 201 ]
}
