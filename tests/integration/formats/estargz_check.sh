#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole-layer check (docs/formats.md) on eStargz, with the ctr-remote
# fixture (estargz_lib.sh): with -o prefetch=all each layer is read in
# full and its TOC held against its tar.
#  - the real image: every layer's check passes (the landmark and
#    stargz.index.json files included: the TOC says what the tar says);
#  - a pinned TOC forged to lie about one file's mode (estargz_forge.py
#    lie-mode): every chunk checks out, so the mount shows the lie until
#    the check reads the layer; then the check fails, is counted, and the
#    layer's reads fail with EIO.
# Over TLS with Basic auth (containerd reaches it through a hosts.toml,
# stratafs with ca_file, username and password_file).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$SRCDIR/tests/integration/fs/mount_lib.sh"
. "$HERE/estargz_lib.sh"
fsd_init
registry_start basic
printf '%s' "$REGISTRY_PASS" >"$HARNESS_DIR/pw"
FSD_BASE_OPTS="ca_file=$REGISTRY_CA,username=$REGISTRY_USER,password_file=$HARNESS_DIR/pw"
esgz_fixture_push esgz/img:v1 65536
H=$HARNESS_DIR
MNT="$H/mnt"
MT=application/vnd.oci.image.manifest.v1+json

stats() { "$STRATA" stats "$1" --json; }
# wait_checks MNT: until no layer's check is queued or running (60 s at most)
wait_checks() {
	local i js
	for i in $(seq 1 600); do
		# jq -e takes empty input for true: a failed strata stats must not pass
		js=$(stats "$1") && [ -n "$js" ] &&
			jq -e '[.layers[].check] | all(. == "passed" or . == "failed")' <<<"$js" >/dev/null &&
			return 0
		sleep 0.1
	done
	return 1
}

FSD_CACHE="$H/c1"
if fsd_mount esgz/img:v1 "$MNT" prefetch=all; then
	tap_ok "prefetch=all: every layer's whole-layer check ends" wait_checks "$MNT"
	tap_is "$(stats "$MNT" | jq -r '[.layers[] | .index_source + " " + .check] | unique | join(",")')" \
		"eStargz passed" "... and passes: each TOC describes its tar"
	tap_is "$(stats "$MNT" | jq -r .totals.check_failures)" 0 "... no failure counted"
	fsd_umount "$MNT"
else
	tap_fail "mount with prefetch=all"
fi

d="$H/forge"
skopeo_pull esgz/img:v1 "$d" >/dev/null
/usr/bin/python3 "$HERE/estargz_forge.py" lie-mode "$d" small/b/f3.txt "$d/forged.json"
for f in "$d"/*; do
	case "${f##*/}" in manifest.json | forged.json | version) continue ;; esac
	registry_push_blob esgz/img "$f" >/dev/null
done
registry_push_manifest esgz/img lie "$d/forged.json" "$MT" >/dev/null
LIE="sha256:$(sha256sum <"$d/forged.json" | cut -d' ' -f1)"
L0=$(jq -r '.layers[0].digest' "$d/forged.json")

FSD_CACHE="$H/c2"
if fsd_mount "esgz/img@$LIE" "$MNT"; then
	tap_is "$(stat -c %a "$MNT/small/b/f3.txt")" 755 \
		"control: without the check, the lying TOC's mode is what the mount shows"
	fsd_umount "$MNT"
else
	tap_fail "mount of the lying TOC"
fi
FSD_CACHE="$H/c3"
if fsd_mount "esgz/img@$LIE" "$MNT" prefetch=all; then
	tap_ok "prefetch=all: the checks end" wait_checks "$MNT"
	tap_is "$(stats "$MNT" | jq -r "[.layers[] | select(.digest == \"$L0\") | .check] | join(\",\")")" \
		failed "the layer whose TOC lies about a mode fails its check"
	tap_ok "... counted" test "$(stats "$MNT" | jq -r .totals.check_failures)" -ge 1
	if cat "$MNT/small/a/f8.txt" >/dev/null 2>"$H/err"; then
		tap_fail "a file of that layer still reads after the failed check"
	else
		tap_ok "... and its files read EIO" grep -q 'Input/output error' "$H/err"
	fi
	fsd_umount "$MNT"
else
	tap_fail "mount of the lying TOC with prefetch=all"
fi
tap_done
