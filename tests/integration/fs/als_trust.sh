#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What stratafs --store trusts, tested with the attacks it stops. A store
# answers any reference a runtime names (a Dockerfile's FROM), so:
#
# 1. MNT/<layer digest>/ (a store without ":ref") serves a layer only if
#    its index was built here from bytes that hashed to that digest. An
#    image of the attacker lists the victim's layer digest D, pins a
#    forged index for it (another tree's, relabelled as D's) and its
#    registry serves that tree's bytes for D. Once the attacker's image was
#    resolved, D alone was served from it: EVIL instead of GENUINE.
# 2. -o username/password_file, insecure and ca_file go to the registry
#    -o registry names only. They went to every registry a reference named:
#    a stand-in registry on another port (its TLS certificate from the
#    same CA) received the user's password. Now it is not even trusted:
#    ca_file is that registry's (tests/unit/fs/test_fs_als.c checks the
#    rule host by host).
. "$(dirname "$0")/mount_lib.sh"
fsd_init
FORGE="$SRCDIR/tests/integration/trust/forge_index.py"
W=$HARNESS_DIR/w
MNT=$HARNESS_DIR/store
mkdir -p "$W/g/data" "$W/e/data" "$MNT"
harness_on_exit "fusermount3 -u -z '$MNT' 2>/dev/null"
b64() { printf '%s' "$1" | base64 -w0; }
sha() { echo "sha256:$(sha256sum <"$1" | cut -d' ' -f1)"; }
wait_mounted() { for _ in $(seq 1 100); do fsd_is_mounted "$MNT" && return 0; sleep 0.1; done; return 1; }

# ---- 1. a forged pinned index does not reach MNT/<digest> ----
registry_start plain
proxy_start
echo GENUINE-CONTENT >"$W/g/data/text.txt"
echo EVIL-CONTENT!!! >"$W/e/data/text.txt"
touch -d @0 "$W/g/data/text.txt" "$W/e/data/text.txt"
tar -C "$W/g" -cf - data | gzip -n >"$W/good.tgz"
tar -C "$W/e" -cf - data | gzip -n >"$W/evil.tgz"
D=$(sha "$W/good.tgz")
# image_push REPO TAG LAYER.tgz DIFF_ID [INDEX_DIGEST [SIZE]]: a one-layer
# image of layer D (LAYER.tgz's bytes are pushed as its blob), of SIZE bytes
# as its descriptor says (default: LAYER.tgz's)
image_push() {
	local cfg=$W/${1//\//_}-cfg.json man=$W/${1//\//_}-man.json ann='{}'
	[ -z "${5:-}" ] || ann=$(jq -nc --arg i "$5" '{"dev.stratafs.index.digest": $i}')
	jq -nc --arg d "$4" '{architecture: "amd64", os: "linux", rootfs: {type: "layers", diff_ids: [$d]}, config: {}}' >"$cfg"
	registry_push_blob "$1" "$3" >/dev/null && registry_push_blob "$1" "$cfg" >/dev/null || return 1
	jq -nc --arg cd "$(sha "$cfg")" --argjson cs "$(stat -c %s "$cfg")" --arg ld "$D" \
		--argjson ls "${6:-$(stat -c %s "$3")}" --argjson ann "$ann" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
		  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
		  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld,
		            size: $ls, annotations: $ann}]}' >"$man"
	registry_push_manifest "$1" "$2" "$man" application/vnd.oci.image.manifest.v1+json >/dev/null
}
image_push als/victim v1 "$W/good.tgz" "$(gzip -dc "$W/good.tgz" | sha256sum | sed 's/^/sha256:/; s/ .*//')" ||
	harness_fail "push the victim"
# the attacker's image: layer D (the registry wants its bytes), the config
# of the evil tar, and pinned, the evil tar's index relabelled as D's
"$STRATA" index "$W/evil.tgz" -o "$W/evil.idx" -q >/dev/null || harness_fail "index the evil layer"
"$PY" "$FORGE" relabel "$W/evil.idx" "$W/forged.idx" "$D" "$(stat -c %s "$W/evil.tgz")" ||
	harness_fail "relabel"
IDX=$(registry_push_blob als/evil "$W/forged.idx") || harness_fail "push the forged index"
image_push als/evil v1 "$W/good.tgz" "$(gzip -dc "$W/evil.tgz" | sha256sum | sed 's/^/sha256:/; s/ .*//')" "$IDX" \
	"$(stat -c %s "$W/evil.tgz")" ||
	harness_fail "push the attacker's image"
# ... and its registry answers D in its repository with the evil bytes
proxy_mode "replace file=$W/evil.tgz path=^/v2/als/evil/blobs/$D code=200"
"$STRATAFS" --store "$MNT" -o "insecure,registry=$PROXY,cache=$FSD_CACHE" -f 2>"$HARNESS_DIR/store1.log" &
STORE=$!
HARNESS_PIDS="$HARNESS_PIDS $STORE"
wait_mounted || harness_fail "the store did not mount: $(tail -5 "$HARNESS_DIR/store1.log")"
tap_ok "the attacker's image resolves (someone pulled it)" ls "$MNT/$(b64 "$PROXY/als/evil:v1")/$D/diff"
tap_is "$(cat "$MNT/$(b64 "$PROXY/als/evil:v1")/$D/diff/data/text.txt" 2>&1)" "EVIL-CONTENT!!!" \
	"... and shows its own manifest's claim under its own reference"
tap_not "MNT/<D> alone is not served from it" stat "$MNT/$D/diff/data/text.txt"
tap_is "$(cat "$MNT/$(b64 "$PROXY/als/victim:v1")/$D/diff/data/text.txt" 2>&1)" "GENUINE-CONTENT" \
	"the victim's reference shows the genuine layer (its index built here)"
tap_is "$(cat "$MNT/$D/diff/data/text.txt" 2>&1)" "GENUINE-CONTENT" \
	"MNT/<D> now serves it: the index built here from bytes that hash to D"
# the runtime releases a layer by rmdir of its dir: ENOENT, as under MNT/<ref>/
# (it was EROFS here, which containers/storage logs on every release)
err=$(rmdir "$MNT/$D" 2>&1 || true)
case "$err" in *"No such file"*) tap_pass "release of MNT/<D> (rmdir): ENOENT" ;; *) tap_fail "release of MNT/<D>: ENOENT" "$err" ;; esac
err=$(rmdir "$MNT/$(b64 "$PROXY/als/victim:v1")" 2>&1 || true)
case "$err" in *"Read-only"*) tap_pass "rmdir of an image dir: EROFS" ;; *) tap_fail "rmdir of an image dir: EROFS" "$err" ;; esac
fusermount3 -u "$MNT"
wait "$STORE" || true
registry_stop

# ---- 2. credentials stay with their registry ----
registry_start basic
fixture_push multi fs/multi:v1 >/dev/null || harness_fail "push the fixture"
printf '%s' "$REGISTRY_PASS" >"$W/pw"
chmod 600 "$W/pw"
# another registry (TLS with a certificate of the same CA): it asks for
# Basic credentials and logs what it is sent
OTHER_LOG=$W/other.log
: >"$OTHER_LOG"
"$PY" - "$HARNESS_CA_DIR/server.crt" "$HARNESS_CA_DIR/server.key" "$W/other.port" "$OTHER_LOG" <<'PY' &
import http.server, ssl, sys
crt, key, port_file, log = sys.argv[1:5]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write("%s %s auth=%s\n" % (self.command, self.path, self.headers.get("Authorization")))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="other"')
        self.send_header("Content-Length", "0")
        self.end_headers()
    do_HEAD = do_GET
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
open(port_file, "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
HARNESS_PIDS="$HARNESS_PIDS $!"
wait_port_file "$W/other.port" /dev/null "the other registry"
OTHER=127.0.0.1:$(cat "$W/other.port")

tap_not "--store with -o username but no -o registry is refused" sh -c \
	"'$STRATAFS' --store '$MNT' -o 'username=$REGISTRY_USER,password_file=$W/pw,cache=$FSD_CACHE' 2>'$W/refused.err'"
tap_ok "... saying why" grep -q "need -o registry=HOST" "$W/refused.err"
tap_not "-o registry without --store is refused" \
	"$STRATAFS" "$REGISTRY/fs/multi:v1" "$HARNESS_DIR/m" -o "registry=$REGISTRY,cache=$FSD_CACHE"
"$STRATAFS" --store "$MNT" -o "username=$REGISTRY_USER,password_file=$W/pw,registry=$REGISTRY,ca_file=$REGISTRY_CA,cache=$FSD_CACHE" \
	-f 2>"$HARNESS_DIR/store2.log" &
HARNESS_PIDS="$HARNESS_PIDS $!"
wait_mounted || harness_fail "the store did not mount: $(tail -5 "$HARNESS_DIR/store2.log")"
IMG=$MNT/$(b64 "$REGISTRY/fs/multi:v1")
tap_ok "an image of the registry -o registry names resolves with the credentials" ls "$IMG"
tap_not "an image of another registry is not found" stat "$MNT/$(b64 "$OTHER/other/app:1")"
tap_is "$(grep -v 'auth=None' "$OTHER_LOG" | head -3)" "" "... and the credentials never reached it"
tap_not "-o registry=NAME (a Docker Hub repository, not a host) is refused" \
	"$STRATAFS" --store "$HARNESS_DIR/m" -o "registry=myregistry,username=u,password_file=$W/pw,cache=$FSD_CACHE"
fusermount3 -u "$MNT"
tap_done
