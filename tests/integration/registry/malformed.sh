#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad registry answers: malformed manifests (served through the fault
# proxy with a Docker-Content-Digest that matches, so the parser itself is
# exercised), wrong media types, an oversized manifest (> 4 MiB), digest
# mismatches (a Docker-Content-Digest that lies, bytes corrupted in the
# registry's own storage). Each: exit 1 with a message, quickly, no crash.
set -euo pipefail
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$SRCDIR/tests/harness/lib.sh"
harness_init

registry_start plain
fixture_push single m/single:latest
fixture_push multi m/multi:latest
proxy_start
RAW=$(skopeo_raw m/single:latest)
CFG=$(jq -c .config <<<"$RAW")
LAYER=$(jq -c '.layers[0]' <<<"$RAW")
OCI_M=application/vnd.oci.image.manifest.v1+json
OCI_I=application/vnd.oci.image.index.v1+json
BAD=$HARNESS_DIR/bad
mkdir -p "$BAD"
OUT=$HARNESS_DIR/out

# bad_case DESC CONTENT_TYPE FILE: serve FILE for the tag's manifest (with
# its true digest in Docker-Content-Digest); inspect must fail cleanly
bad_case() {
	local desc=$1 ct=$2 file=$3 d
	d="sha256:$(sha256sum "$file" | cut -d' ' -f1)"
	# by tag and by digest (a client may HEAD the tag, then GET the digest)
	proxy_mode "replace file=$file path=^/v2/m/single/manifests/ content_type=$ct digest=$d code=200"
	tap_timed strata_run inspect "$PROXY/m/single:latest" --json --retries 1 --timeout 5
	_bad_report "$desc"
}

_bad_report() {
	local desc=$1
	if strata_crashed "$TAP_RC" || grep -qE 'Sanitizer|runtime error:' "$TAP_OUT"; then
		tap_fail "$desc: exit 1, no crash" "crashed: exit $TAP_RC" "$(tail -20 "$TAP_OUT")"
	elif [ "$TAP_RC" != 1 ]; then
		tap_fail "$desc: exit 1, no crash" "exit $TAP_RC" "$(tail -5 "$TAP_OUT")"
	elif [ ! -s "$STRATA_ERR" ]; then
		tap_fail "$desc: exit 1, no crash" "exit 1 but no message on stderr"
	elif ! tap_lt "$TAP_SECS" 15; then
		tap_fail "$desc: exit 1, no crash" "took ${TAP_SECS}s"
	else
		tap_pass "$desc: exit 1, no crash ($(head -c 150 "$STRATA_ERR" | tr '\n' ' '))"
	fi
}

mk() { # NAME: write stdin to $BAD/NAME, print the path
	cat >"$BAD/$1"
	printf '%s\n' "$BAD/$1"
}

# sanity: the untouched manifest through the proxy
proxy_mode
rc=0
strata_run inspect "$PROXY/m/single:latest" --json >/dev/null || rc=$?
tap_is "$rc" 0 "sanity: inspect through the proxy, unchanged, works"

# --- malformed JSON ---------------------------------------------------------
bad_case "truncated JSON" $OCI_M "$(printf '{"schemaVersion": 2, "mediaType": "%s", "config": {' $OCI_M | mk trunc)"
bad_case "empty body" $OCI_M "$(printf '' | mk empty)"
bad_case "a JSON array" $OCI_M "$(echo '[]' | mk array)"
bad_case "a JSON string" $OCI_M "$(echo '"manifest"' | mk string)"
bad_case "trailing garbage after the object" $OCI_M "$(printf '%s}}garbage' "$RAW" | mk trailing)"
bad_case "schemaVersion 3" $OCI_M "$(jq -c '.schemaVersion = 3' <<<"$RAW" | mk sv3)"
bad_case "no config" $OCI_M "$(jq -c 'del(.config)' <<<"$RAW" | mk nocfg)"
bad_case "layers is an object" $OCI_M "$(jq -c '.layers = {}' <<<"$RAW" | mk layersobj)"
bad_case "a layer without digest" $OCI_M "$(jq -c 'del(.layers[0].digest)' <<<"$RAW" | mk nodigest)"
bad_case "a layer digest 'sha256:zz'" $OCI_M "$(jq -c '.layers[0].digest = "sha256:zz"' <<<"$RAW" | mk baddigest)"
bad_case "a layer digest with a path in it" $OCI_M \
	"$(jq -c '.layers[0].digest = "sha256:../../../../etc/passwd"' <<<"$RAW" | mk pathdigest)"
bad_case "a negative layer size" $OCI_M "$(jq -c '.layers[0].size = -5' <<<"$RAW" | mk negsize)"
bad_case "a layer size of 2^64" $OCI_M \
	"$(sed 's/"size":[0-9]*}]/"size":18446744073709551616}]/' <<<"$RAW" | mk hugesize)"
bad_case "a layer size as a string" $OCI_M "$(jq -c '.layers[0].size = "12"' <<<"$RAW" | mk strsize)"
bad_case "config size 1e300" $OCI_M "$(sed 's/"size":[0-9]*}/"size":1e300}/' <<<"$RAW" | mk floatsize)"
bad_case "100000 nested arrays" $OCI_M \
	"$({ printf '{"schemaVersion":2,"x":'; head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'; printf '}'; } | mk nested)"
bad_case "a NUL byte in the media type" $OCI_M \
	"$(jq -c '.layers[0].mediaType = "application/vnd.oci.image.layer.v1.tar\u0000+gzip"' <<<"$RAW" | mk nul)"
bad_case "invalid UTF-8" $OCI_M "$(printf '{"schemaVersion":2,"mediaType":"\xff\xfe"}' | mk utf8)"
bad_case "10000 layers with bad digests" $OCI_M \
	"$(jq -c '.layers = [range(10000) | {mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: "sha256:x\(.)", size: 1}]' <<<"$RAW" | mk manylayers)"

# --- wrong media types ------------------------------------------------------
bad_case "an HTML page as text/html" text/html "$(echo '<html><body>captive portal</body></html>' | mk html)"
bad_case "a manifest whose mediaType is a layer type" application/vnd.oci.image.layer.v1.tar+gzip \
	"$(jq -c '.mediaType = "application/vnd.oci.image.layer.v1.tar+gzip"' <<<"$RAW" | mk layertype)"
bad_case "a Docker schema 1 manifest" application/vnd.docker.distribution.manifest.v1+prettyjws \
	"$(echo '{"schemaVersion":1,"name":"m/single","tag":"latest","architecture":"amd64","fsLayers":[],"history":[]}' | mk schema1)"
bad_case "an index with no manifests" $OCI_I \
	"$(jq -nc --arg mt $OCI_I '{schemaVersion: 2, mediaType: $mt, manifests: []}' | mk emptyindex)"

# --- oversized --------------------------------------------------------------
# distribution itself refuses to store > 4 MiB ("request body too large"),
# so the proxy serves it; 3 MiB is really pushed and must work.
pad_manifest() { # MIB
	printf '%s' "$(jq -c 'del(.annotations)' <<<"$RAW" | sed 's/}$//')"
	printf ',"annotations":{"pad":"'
	head -c $(($1 * 1048576)) /dev/zero | tr '\0' 'a'
	printf '"}}'
}
pad_manifest 3 >"$BAD/big3"
registry_push_manifest m/single big3 "$BAD/big3" $OCI_M >/dev/null || harness_fail "cannot push a 3 MiB manifest"
proxy_mode
rc=0
strata_run inspect "$REGISTRY/m/single:big3" --json >"$OUT" 2>/dev/null || rc=$?
tap_ok "a 3 MiB manifest (under the 4 MiB ceiling) is read" \
	bash -c "[ $rc = 0 ] && [ \"\$(jq -r .digest '$OUT')\" = 'sha256:$(sha256sum "$BAD/big3" | cut -d' ' -f1)' ]"
pad_manifest 5 >"$BAD/big5"
bad_case "a 5 MiB manifest (over the 4 MiB ceiling)" $OCI_M "$BAD/big5"
tap_ok "5 MiB manifest: the error mentions the size" grep -qiE 'large|size|big|limit|exceed|MiB|bytes' "$STRATA_ERR"
pad_manifest 64 >"$BAD/big64"
bad_case "a 64 MiB manifest" $OCI_M "$BAD/big64"
rm -f "$BAD"/big*

# --- digest mismatches ------------------------------------------------------
proxy_mode "replace file=$(printf '%s' "$RAW" | mk same) path=^/v2/m/single/manifests/ digest=sha256:$(printf '%064d' 0) code=200"
tap_timed strata_run inspect "$PROXY/m/single:latest" --json --retries 1
_bad_report "a Docker-Content-Digest that does not match the body"
proxy_mode

# corrupt the registry's own storage: the blob files of 'single' (not shared
# with 'multi'); distribution serves them as they are
data_of() { # DIGEST: path of the blob's data file in the registry storage
	local h=${1#sha256:}
	printf '%s/docker/registry/v2/blobs/sha256/%s/%s/data\n' "$REGISTRY_STORAGE" "${h:0:2}" "$h"
}
flip_byte() { # FILE OFFSET
	local b
	b=$(dd if="$1" bs=1 skip="$2" count=1 status=none | od -An -tu1 | tr -d ' ')
	printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
ld=$(jq -r .digest <<<"$LAYER")
cd_=$(jq -r .digest <<<"$CFG")
md="sha256:$(skopeo_raw m/single:latest | sha256sum | cut -d" " -f1)"
flip_byte "$(data_of "$ld")" 1000
tap_timed strata_run blob "$REGISTRY/m/single:latest" "$ld" -o "$OUT" --retries 1
_bad_report "a layer blob corrupted in the registry's storage: strata blob"
flip_byte "$(data_of "$cd_")" 10
tap_timed strata_run inspect "$REGISTRY/m/single:latest" --json --retries 1
_bad_report "a config blob corrupted in the registry's storage: strata inspect"
# (still valid JSON, or distribution would refuse to serve it: it parses
# manifests, but serves their stored bytes)
sed -i '0,/image\.config/s//image.Config/' "$(data_of "$md")"
tap_timed strata_run inspect "$REGISTRY/m/single:latest" --json --retries 1
_bad_report "the manifest corrupted in the registry's storage (by tag)"
tap_timed strata_run inspect "$REGISTRY/m/single@$md" --json --retries 1
_bad_report "the manifest corrupted in the registry's storage (by digest)"

# multi is untouched by all that
rc=0
strata_run inspect "$REGISTRY/m/multi:latest" --json >/dev/null 2>&1 || rc=$?
tap_is "$rc" 0 "the other image still inspects fine afterwards"

tap_done
