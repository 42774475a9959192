#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test harness itself, without stratafs: every registry variant starts
# and serves a fixture to skopeo, the fixtures are what they claim to be,
# the access-log helpers count right and every fault-proxy rule behaves as
# documented (checked with curl).
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
harness_init

# --- fixtures are what they claim --------------------------------------

# layer_list LAYOUT_BLOB_FILE MEDIATYPE: tar member names of a layer
layer_list() {
	case "$2" in
	*zstd) zstd -dc "$1" ;;
	*gzip) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac | tar -tf - 2>/dev/null || true # umoci tars lack the EOF blocks
}

fixture_layers() { # NAME -> "mediaType file" lines
	local ref dir name m
	ref=$(fixture_ref "$1")
	dir=${ref%:*}
	name=${ref##*:}
	m=$(_fx_manifest "$dir" "$name")
	jq -r '.layers[] | "\(.mediaType) \(.digest)"' "$dir/blobs/sha256/$m" |
		while read -r mt d; do echo "$mt $dir/blobs/sha256/${d#sha256:}"; done
}

check_multi() {
	local all
	all=$(fixture_layers multi | while read -r mt f; do layer_list "$f" "$mt"; done)
	for want in gone.txt gonedir/sub/y .wh.gone.txt .wh.gonedir opq/.wh..wh..opq opq/new1 \
		links/hard.txt links/sym xattr/file big/large.bin keep/a.txt; do
		grep -qx -- "$want" <<<"$all" || {
			echo "multi: no member '$want'"
			return 1
		}
	done
	grep -qE '^long/(d{90})/(e{90})/(f{90})/file-at-the-end-of-a-long-path.txt$' <<<"$all" || return 1
	grep -qE '^long/m{200}$' <<<"$all" || return 1
	[ "$(fixture_layers multi | wc -l)" = 5 ] || return 1
	# a hardlink member and the xattrs (PAX SCHILY.xattr.*); no `| head`
	# in these pipelines: with pipefail, SIGPIPE upstream would fail them
	local first
	first=$(fixture_layers multi | sed -n '1s/^[^ ]* //p')
	gzip -dc "$first" | grep -a -c 'SCHILY.xattr.user.stratafs.text=hello' >/dev/null || return 1
	(gzip -dc "$first" | tar -tvf - 2>/dev/null || true) | grep -c 'links/hard.*link to' >/dev/null || return 1
	# the big layer blob is > 1 MiB
	[ "$(stat -c %s "$first")" -gt 1048576 ]
}

check_recompressed() { # NAME KIND: layers have that media type and the same diff_ids
	local ref dir name m cfg i=0 mt f want got
	ref=$(fixture_ref "$1")
	dir=${ref%:*}
	name=${ref##*:}
	m=$(_fx_manifest "$dir" "$name")
	cfg=$(jq -r .config.digest "$dir/blobs/sha256/$m")
	while read -r mt f; do
		case "$mt" in *"$2") ;; *) echo "$1: layer $i is $mt" && return 1 ;; esac
		want=$(jq -r ".rootfs.diff_ids[$i]" "$dir/blobs/sha256/${cfg#sha256:}")
		case "$2" in
		zstd) got=sha256:$(zstd -dc "$f" | sha256sum | cut -d' ' -f1) ;;
		tar) got=sha256:$(sha256sum "$f" | cut -d' ' -f1) ;;
		esac
		[ "$got" = "$want" ] || {
			echo "$1: layer $i diff_id $got, config says $want"
			return 1
		}
		i=$((i + 1))
	done < <(fixture_layers "$1")
	[ "$i" -gt 0 ]
}

check_index() {
	local dir m
	dir=$(fixture_build index)
	m=$(_fx_manifest "$dir" index)
	[ "$(jq -r '[.manifests[].platform | "\(.os)/\(.architecture)\(if .variant then "/"+.variant else "" end)"] | join(" ")' \
		"$dir/blobs/sha256/$m")" = "linux/amd64 linux/arm64/v8" ]
}

t0=$(date +%s)
for f in $FIXTURES; do
	tap_ok "fixture '$f' builds" fixture_build "$f"
done
tap_diag "fixtures built in $(($(date +%s) - t0)) s (cache: $FIXTURE_CACHE)"
tap_ok "fixture 'multi' has whiteouts, opaque dir, links, xattrs, long paths" check_multi
tap_ok "fixture 'zstd' has tar+zstd layers matching the diff_ids" check_recompressed zstd zstd
tap_ok "fixture 'uncompressed' has plain tar layers matching the diff_ids" check_recompressed uncompressed tar
tap_ok "fixture 'index' lists linux/amd64 and linux/arm64/v8" check_index

# --- every variant: start, push, pull ----------------------------------

pull_check() { # FIXTURE REPO:TAG: skopeo copies the pushed image back, blobs verified
	local d="$HARNESS_DIR/pull.$RANDOM" f
	skopeo_pull "$2" "$d" || return 1
	for f in "$d"/*; do
		case "$(basename "$f")" in
		manifest.json | version) continue ;;
		esac
		[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || return 1
	done
	rm -rf "$d"
}

same_manifest_as_layout() { # FIXTURE REPO:TAG
	local ref dir name want got
	ref=$(fixture_ref "$1")
	dir=${ref%:*}
	name=${ref##*:}
	want=$(_fx_manifest "$dir" "$name")
	got=$(skopeo_raw "$2" | sha256sum | cut -d' ' -f1)
	[ "$want" = "$got" ] || {
		echo "pushed manifest sha256:$got, layout has sha256:$want"
		return 1
	}
}

for v in plain tls basic token; do
	registry_start "$v" # a registry that cannot start fails the test (bail out)
	tap_pass "registry '$v' starts at $REGISTRY_URL"
	tap_ok "$v: skopeo pushes fixture 'single'" fixture_push single "selftest/single:v1"
	tap_ok "$v: skopeo pulls it back, blobs verified" pull_check single "selftest/single:v1"
	tap_ok "$v: the pushed manifest is the layout's, byte for byte" same_manifest_as_layout single selftest/single:v1
	case "$v" in
	tls | basic | token)
		tap_not "$v: curl without the CA fails TLS verification" curl -sSf -o /dev/null "$REGISTRY_URL/v2/"
		tap_is "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" "$REGISTRY_URL/v2/")" \
			"$([ "$v" = tls ] && echo 200 || echo 401)" "$v: curl with --cacert \$REGISTRY_CA gets through"
		;;
	esac
	case "$v" in
	basic)
		tap_is "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" -u "$REGISTRY_USER:wrong" "$REGISTRY_URL/v2/")" \
			401 "basic: a wrong password gets 401"
		tap_is "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" -u "$REGISTRY_USER:$REGISTRY_PASS" "$REGISTRY_URL/v2/")" \
			200 "basic: the right one gets 200"
		;;
	token)
		tap_ok "token: the issuer logged repository:selftest/single:pull,push (push)" \
			grep -qx 'repository:selftest/single:pull,push' <(token_scopes)
		tap_ok "token: and repository:selftest/single:pull (pull)" \
			grep -qx 'repository:selftest/single:pull' <(token_scopes)
		tap_is "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" -u "$REGISTRY_USER:wrong" \
			"$TOKEN_URL?service=$TOKEN_SERVICE&scope=repository:x:pull")" 401 "token: the issuer refuses a wrong password"
		post=$(curl -s --cacert "$REGISTRY_CA" -d grant_type=password -d "username=$REGISTRY_USER" \
			--data-urlencode "password=$REGISTRY_PASS" -d "service=$TOKEN_SERVICE" -d client_id=selftest \
			-d access_type=offline --data-urlencode "scope=repository:selftest/single:pull" "$TOKEN_URL")
		rt=$(jq -r .refresh_token <<<"$post")
		code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" \
			-H "Authorization: Bearer $(jq -r .access_token <<<"$post")" "$REGISTRY_URL/v2/selftest/single/tags/list")
		tap_is "$code" 200 "token: the OAuth2 POST form (grant_type=password) gives a working access_token"
		post=$(curl -s --cacert "$REGISTRY_CA" -d grant_type=refresh_token -d "refresh_token=$rt" \
			-d "service=$TOKEN_SERVICE" -d client_id=selftest -d "scope=repository:selftest/single:pull" "$TOKEN_URL")
		tap_ok "token: ...and its refresh_token another one" jq -e '.access_token | length > 100' <<<"$post"
		token_expires_in 2
		tok=$(token_get "repository:selftest/single:pull")
		code1=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" -H "Authorization: Bearer $tok" \
			"$REGISTRY_URL/v2/selftest/single/manifests/v1" -H 'Accept: application/vnd.oci.image.manifest.v1+json')
		sleep 2.5
		code2=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA" -H "Authorization: Bearer $tok" \
			"$REGISTRY_URL/v2/selftest/single/manifests/v1" -H 'Accept: application/vnd.oci.image.manifest.v1+json')
		tap_is "$code1 $code2" "200 401" "token: with expires_in=2 a token works, then not after 2.5 s"
		token_expires_in 300
		;;
	esac
	registry_stop
done

# --- every fixture through the plain registry ---------------------------

registry_start plain
plain_log=$REGISTRY_LOG
for f in $FIXTURES; do
	tap_ok "plain: fixture '$f' pushes" fixture_push "$f" "fx/$f:latest"
	if [ "$f" = index ] || [ "$f" = list ]; then
		tap_ok "plain: fixture '$f' pulls back (--all)" pull_check "$f" "fx/$f:latest" --all
	else
		tap_ok "plain: fixture '$f' pulls back" pull_check "$f" "fx/$f:latest"
	fi
	case "$f" in
	v2s2)
		tap_is "$(skopeo_raw fx/v2s2:latest | jq -r .mediaType)" \
			application/vnd.docker.distribution.manifest.v2+json "plain: v2s2 is stored as Docker schema 2"
		;;
	list)
		tap_is "$(skopeo_raw fx/list:latest | jq -c '[.mediaType, [.manifests[] | .mediaType, .platform.architecture]]')" \
			'["application/vnd.docker.distribution.manifest.list.v2+json",["application/vnd.docker.distribution.manifest.v2+json","amd64","application/vnd.docker.distribution.manifest.v2+json","arm64"]]' \
			"plain: list is stored as a Docker manifest list of schema 2 manifests"
		;;
	*)
		tap_ok "plain: '$f' is stored byte for byte as in its layout" same_manifest_as_layout "$f" "fx/$f:latest"
		;;
	esac
done
tap_is "$(skopeo_raw fx/uncompressed:latest | jq -r '.layers[0].mediaType')" \
	application/vnd.oci.image.layer.v1.tar "plain: the uncompressed layer stays a plain tar"

# --- access-log helpers --------------------------------------------------

big=$(skopeo_raw fx/multi:latest | jq -r '.layers[0].digest')
bigsize=$(skopeo_raw fx/multi:latest | jq -r '.layers[0].size')
registry_log_mark
curl -sf -o /dev/null "$REGISTRY_URL/v2/fx/multi/blobs/$big"
curl -sf -o /dev/null -r 1000-1999 "$REGISTRY_URL/v2/fx/multi/blobs/$big"
tap_is "$(registry_bytes_served "$big")" "$((bigsize + 1000))" "registry_bytes_served counts a whole GET and a 1000-byte range"
tap_is "$(registry_blob_gets "$big")" 2 "registry_blob_gets counts 2 GETs"
tap_is "$(registry_requests GET '/manifests/')" 0 "registry_requests: no manifest GET since the mark"

# --- the fault proxy, checked with curl -----------------------------------

proxy_start
B="$PROXY_URL/v2/fx/multi/blobs/$big"
OUT=$HARNESS_DIR/proxy.out
want_sha=${big#sha256:}

# pcurl ARGS...: curl through the proxy; prints "http_code size exit"
pcurl() {
	local rc=0 res
	res=$(curl -s -o "$OUT" -w '%{http_code} %{size_download}' "$@") || rc=$?
	echo "$res $rc"
}

tap_is "$(pcurl "$B")" "200 $bigsize 0" "proxy pass: whole blob"
tap_is "$(sha256sum <"$OUT" | cut -d' ' -f1)" "$want_sha" "proxy pass: right bytes"
tap_is "$(pcurl -r 100-199 "$B")" "206 100 0" "proxy pass: a Range request gets 206"
tap_is "$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{num_connects}' "$B" "$B" "$B" | tr -d '\n')" "100" \
	"proxy keeps client connections alive (3 requests, 1 connect)"

proxy_mode "drop after=4096 path=/blobs/"
tap_is "$(pcurl "$B")" "200 4096 18" "proxy drop after=4096: curl sees a short body (exit 18)"
proxy_mode "reset path=/blobs/"
tap_is "$(pcurl "$B")" "000 0 52" "proxy reset: no answer at all (exit 52)"

proxy_mode "status code=503 times=2"
r=$(for i in 1 2 3; do pcurl "$B" | cut -d' ' -f1; done | tr '\n' ' ')
tap_is "$r" "503 503 200 " "proxy status code=503 times=2: 503, 503, then the blob"
tap_is "$(proxy_hits 0)" 2 "proxy_hits reports 2 hits of rule 0"

proxy_mode "status code=429 retry_after=2 path=/manifests/"
hdr=$(curl -s -D - -o /dev/null "$PROXY_URL/v2/fx/multi/manifests/latest")
tap_ok "proxy 429: status 429 with Retry-After: 2" \
	grep -qiE '^HTTP/1.1 429|^retry-after: 2' <<<"$hdr"
tap_ok "proxy 429: only for matching paths (blob still 200)" grep -q '^200 ' <(pcurl "$B")

proxy_mode "delay secs=1.5 path=/blobs/"
tap_timed curl -sf -o "$OUT" "$B"
tap_ok "proxy delay secs=1.5 (headers): ok after >= 1.5 s ($TAP_SECS s)" \
	bash -c "[ $TAP_RC = 0 ] && awk 'BEGIN{exit !($TAP_SECS >= 1.5)}'"
tap_timed curl -s -o /dev/null --max-time 0.7 "$B"
tap_is "$TAP_RC" 28 "proxy delay: a client timeout of 0.7 s fires (curl exit 28)"
proxy_mode "delay secs=1 where=body after=1000 path=/blobs/"
tap_timed curl -sf -o "$OUT" "$B"
tap_ok "proxy delay where=body: right bytes after >= 1 s ($TAP_SECS s)" \
	bash -c "[ $TAP_RC = 0 ] && [ \"\$(sha256sum <'$OUT' | cut -d' ' -f1)\" = $want_sha ] && awk 'BEGIN{exit !($TAP_SECS >= 1)}'"

proxy_mode "delay secs=2 path=/blobs/"
tap_timed bash -c "for i in 1 2 3 4; do curl -sf -o /dev/null '$B' & done; wait"
tap_ok "proxy is multi-threaded: 4 requests delayed 2 s at once take < 5 s ($TAP_SECS s)" tap_lt "$TAP_SECS" 5

proxy_mode "norange path=/blobs/"
tap_is "$(pcurl -r 100-199 "$B")" "200 $bigsize 0" "proxy norange: a Range request gets 200 and the whole blob"

curl -sf -o "$OUT.good" "$B"
proxy_mode "flip offset=12345 path=/blobs/"
tap_is "$(pcurl "$B")" "200 $bigsize 0" "proxy flip: full size"
tap_is "$(cmp -l "$OUT" "$OUT.good" | awk '{print $1}' | tr '\n' ' ')" "12346 " "proxy flip offset=12345: exactly that byte differs"

proxy_mode "flip path=/blobs/ skip=1 times=1"
a=$(curl -sf "$B" | sha256sum | cut -d' ' -f1)
b=$(curl -sf "$B" | sha256sum | cut -d' ' -f1)
c=$(curl -sf "$B" | sha256sum | cut -d' ' -f1)
tap_is "$([ "$a" = "$want_sha" ] && echo good || echo bad) $([ "$b" = "$want_sha" ] && echo good || echo bad) $([ "$c" = "$want_sha" ] && echo good || echo bad)" \
	"good bad good" "proxy skip=1 times=1: only the second request is hit"

printf '{"schemaVersion": 2, "broken' >"$HARNESS_DIR/bad.json"
proxy_mode "replace file=$HARNESS_DIR/bad.json path=/manifests/ content_type=application/vnd.oci.image.manifest.v1+json"
tap_is "$(curl -s "$PROXY_URL/v2/fx/multi/manifests/latest")" '{"schemaVersion": 2, "broken' "proxy replace: the manifest body is the file"

proxy_mode "slow rate=1000000 path=/blobs/"
tap_timed curl -sf -o "$OUT" "$B"
tap_ok "proxy slow rate=1000000: the 1.5 MiB blob takes >= 1.4 s ($TAP_SECS s)" \
	bash -c "[ $TAP_RC = 0 ] && awk 'BEGIN{exit !($TAP_SECS >= 1.4)}'"

proxy_mode "redirect path=/blobs/"
hdr=$(curl -s -o /dev/null -D - "$B" | tr -d '\r')
tap_ok "proxy redirect: 307 to /__redirected/ on localhost (another origin)" \
	grep -qE "^[Ll]ocation: http://localhost:${PROXY##*:}/__redirected/v2/fx/multi/blobs/$big\$" <<<"$hdr"
tap_is "$(curl -sL -r 10-19 "$B" | od -An -tx1 | tr -d ' \n')" \
	"$(curl -s -r 10-19 "$REGISTRY_URL/v2/fx/multi/blobs/$big" | od -An -tx1 | tr -d ' \n')" \
	"proxy redirect: the redirected request serves the blob (Range kept by curl)"
curl -sL -o /dev/null -H 'Authorization: Bearer not-for-s3' --location-trusted "$B"
tap_is "$(proxy_redirected_with_auth)" 1 "proxy redirect: a client that sends Authorization there is seen"

proxy_mode
tap_ok "proxy: skopeo copies through it (pass)" skopeo copy --quiet --src-tls-verify=false \
	"docker://$PROXY/fx/single:latest" "dir:$HARNESS_DIR/through-proxy"
tap_ok "proxy_requests counts blob GETs in its log" bash -c "[ \$(jq -c 'select(.method==\"GET\" and (.path|test(\"/blobs/\")))' '$PROXY_LOG' | wc -l) -ge 10 ]"
tap_is "$(proxy_requests PUT /__proxy)" 0 "proxy control requests are not logged as traffic"

# the control file instead of the control URL
proxy_stop
rules=$HARNESS_DIR/rules.txt
echo "status code=503 path=/blobs/" >"$rules"
proxy_start --rules-file "$rules"
B="$PROXY_URL/v2/fx/multi/blobs/$big"
tap_is "$(curl -s -o /dev/null -w '%{http_code}' "$B")" 503 "proxy --rules-file: the file's rule applies"
sleep 0.05 # a new mtime
echo "pass" >"$rules"
touch -d '+1 second' "$rules"
tap_is "$(curl -s -o /dev/null -w '%{http_code}' "$B")" 200 "proxy --rules-file: a changed file is re-read"

tap_done
