#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ECR-like front of a real registry, for tests/integration/aws/ecr_e2e.sh.

"registry" side (HTTPS, --port-file): every request is forwarded to the
upstream distribution registry as is (Authorization included, so its
htpasswd check stays the real one), except blob GETs: those are checked
with a HEAD upstream (same Authorization) and answered, like ECR, with a
307 to the "s3" side and a presigned-looking URL (X-Amz-Date, X-Amz-Expires,
X-Amz-Signature = HMAC of path + date with a secret of this process).

"s3" side (HTTPS, --s3-port-file): like S3, refuses any request that
carries an Authorization header (400 InvalidArgument "Only one auth
mechanism allowed"), refuses a bad signature or an expired URL (403), and
serves the blob (fetched upstream with --user/--password) honouring Range.

Every request is one JSON line in --log: side, method, path, status,
auth (an Authorization header was present), range.

Uploads (ecr_push.sh): a Location the upstream answers with (its own
origin) is rewritten to this front's, as ECR's upload URLs are on the
registry host. With --token-log (the file ecr_standin.py --token-log
writes), the front checks tokens like ECR instead of the upstream: the
Basic password must be one the stand-in issued, unexpired and not revoked,
else 401 + Basic challenge (no Authorization) or 403 DENIED "Your
authorization token has expired" (ECR's answer); a good one is replaced by
--user/--password upstream. --revoke-at-upload N revokes every token issued
so far when the Nth upload request (PATCH/PUT/POST on /blobs/uploads/)
arrives, and refuses that request: a token that expires mid-push;
--revoke-forever refuses every token from then on, new ones too.
--bind/--port put the registry side on a fixed address (the default is
127.0.0.1 and a free port).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

A = None
SECRET = os.urandom(16)
BLOBS = {}
LOCK = threading.Lock()
STATE = {"uploads": 0, "revoked_upto": 0}
BLOB_RE = re.compile(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$")
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "content-length", "host"}


def log(entry):
    with LOCK, open(A.log, "a") as f:
        f.write(json.dumps(entry) + "\n")


def upstream(method, path, headers, body=None):
    ctx = ssl.create_default_context(cafile=A.ca)
    req = urllib.request.Request(A.upstream + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def sign(path, date):
    return hmac.new(SECRET, ("%s|%s" % (path, date)).encode(), hashlib.sha256).hexdigest()


class Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body=b"", headers=None, side="registry", length=None):
        self.send_response(status)
        for k, v in (headers or []):
            self.send_header(k, v)
        # a HEAD answer carries the length of what a GET would send
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log({"side": side, "method": self.command, "path": self.path, "status": status,
             "auth": "Authorization" in self.headers, "range": self.headers.get("Range")})


def issued_tokens():
    """{password: (seq, expires)} from the stand-in's --token-log."""
    out = {}
    try:
        with open(A.token_log) as f:
            for line in f:
                d = json.loads(line)
                out[d["password"]] = (d["seq"], d["expires"])
    except FileNotFoundError:
        pass
    return out


def basic_password(value):
    if not value or not value.startswith("Basic "):
        return None
    try:
        user, _, pw = base64.b64decode(value[6:], validate=True).decode().partition(":")
    except ValueError:
        return None
    return pw if user == "AWS" else None


class Registry(Base):
    def auth_ok(self):
        """ECR-like token check (--token-log): True, or the refusal was sent."""
        if not A.token_log:
            return True
        is_upload = "/blobs/uploads/" in self.path and self.command in ("POST", "PATCH", "PUT")
        if is_upload:
            with LOCK:
                STATE["uploads"] += 1
                n = STATE["uploads"]
            if n == A.revoke_at_upload:
                toks = issued_tokens()
                with LOCK:
                    STATE["revoked_upto"] = (float("inf") if A.revoke_forever else
                                             max([s for s, _ in toks.values()] + [0]))
                log({"side": "registry", "event": "revoke", "upload": n,
                     "revoked_upto": STATE["revoked_upto"]})
        auth = self.headers.get("Authorization")
        if auth is None:
            self.drain()
            return self.refuse(401, "UNAUTHORIZED", "authentication required",
                               [("WWW-Authenticate", 'Basic realm="https://%s/"' % self.headers.get("Host"))])
        pw = basic_password(auth)
        tok = issued_tokens().get(pw) if pw is not None else None
        if tok is None or tok[0] <= STATE["revoked_upto"] or tok[1] < time.time():
            self.drain()
            return self.refuse(403, "DENIED", "Your authorization token has expired. "
                               "Reauthenticate and try again.")
        return True

    def drain(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        if n:
            self.rfile.read(n)

    def refuse(self, status, code, msg, extra=None):
        body = json.dumps({"errors": [{"code": code, "message": msg, "detail": None}]}).encode()
        self.send(status, body, [("Content-Type", "application/json; charset=utf-8")] + (extra or []))
        return False

    def up_headers(self, keep=None):
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() not in HOP and (keep is None or k.lower() in keep)}
        if A.token_log:
            hdrs["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % (A.user, A.password)).encode()).decode()
        return hdrs

    def forward(self):
        if not self.auth_ok():
            return
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(n) if n else None
        st, rh, data = upstream(self.command, self.path, self.up_headers(), body)
        out = []
        for k, v in rh.items():
            if k.lower() in HOP:
                continue
            if k.lower() == "location" and v.startswith(A.upstream):
                # ECR's upload URLs are on the registry host: so are ours
                v = "https://%s%s" % (self.headers.get("Host"), v[len(A.upstream):])
            out.append((k, v))
        length = rh.get("Content-Length") if self.command == "HEAD" else None
        self.send(st, data, out, length=length)

    def blob(self, name, digest):
        if not self.auth_ok():
            return
        hdrs = self.up_headers(("authorization",))
        st, rh, data = upstream("HEAD", self.path, hdrs)
        if st != 200:
            return self.send(st, data, [(k, v) for k, v in rh.items() if k.lower() not in HOP])
        date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = "/prod-us-east-1-starport-layer-bucket/%s/%s" % (name, digest)
        q = urllib.parse.urlencode([
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "ASIAS3STANDIN/%s/us-east-1/s3/aws4_request" % date[:8]),
            ("X-Amz-Date", date), ("X-Amz-Expires", str(A.expires)),
            ("X-Amz-SignedHeaders", "host"), ("X-Amz-Signature", sign(path, date))])
        loc = "https://127.0.0.1:%d%s?%s" % (A.s3_port, path, q)
        self.send(307, b"", [("Location", loc), ("Docker-Distribution-Api-Version", "registry/2.0")])

    def do_GET(self):
        m = BLOB_RE.match(self.path.split("?", 1)[0])
        if m:
            return self.blob(m.group(1), m.group(2))
        self.forward()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward


def s3_error(code, msg):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>STANDIN</RequestId></Error>' % (code, msg)).encode()


class S3(Base):
    def send3(self, status, body=b"", headers=None):
        self.send(status, body, headers, side="s3")

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        if "Authorization" in self.headers:
            return self.send3(400, s3_error("InvalidArgument", "Only one auth mechanism allowed; only the "
                              "X-Amz-Algorithm query parameter, Signature query string parameter or the "
                              "Authorization header should be specified"), [("Content-Type", "application/xml")])
        date, exp = q.get("X-Amz-Date", ""), q.get("X-Amz-Expires", "0")
        if not hmac.compare_digest(q.get("X-Amz-Signature", ""), sign(u.path, date)):
            return self.send3(403, s3_error("SignatureDoesNotMatch", "bad signature"))
        t0 = time.mktime(time.strptime(date, "%Y%m%dT%H%M%SZ")) - time.timezone
        if time.time() > t0 + int(exp):
            return self.send3(403, s3_error("AccessDenied", "Request has expired"))
        name, digest = u.path[1:].split("/", 1)[1].rsplit("/", 1)
        with LOCK:
            data = BLOBS.get(digest)
        if data is None:
            auth = base64.b64encode(("%s:%s" % (A.user, A.password)).encode()).decode()
            st, _, data = upstream("GET", "/v2/%s/blobs/%s" % (name, digest), {"Authorization": "Basic " + auth})
            if st != 200:
                return self.send3(404, s3_error("NoSuchKey", "no such blob"))
            with LOCK:
                BLOBS[digest] = data
        rng = self.headers.get("Range")
        m = re.match(r"^bytes=(\d+)-(\d*)$", rng or "")
        if not m:
            return self.send3(200, data, [("Content-Type", "application/octet-stream")])
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
        if start >= len(data):
            return self.send3(416, b"", [("Content-Range", "bytes */%d" % len(data))])
        self.send3(206, data[start:end + 1], [("Content-Type", "application/octet-stream"),
                   ("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))])

    do_HEAD = do_GET


def serve(handler, port_file, cert, key, bind="127.0.0.1", port=0):
    srv = ThreadingHTTPServer((bind, port), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    return srv


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--s3-port-file", required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--tls-cert", required=True)
    p.add_argument("--tls-key", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--expires", type=int, default=900)
    p.add_argument("--log", required=True)
    p.add_argument("--token-log")
    p.add_argument("--revoke-at-upload", type=int, default=0)
    p.add_argument("--revoke-forever", action="store_true")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    A = p.parse_args()
    s3 = serve(S3, A.s3_port_file, A.tls_cert, A.tls_key)
    A.s3_port = s3.server_address[1]
    threading.Thread(target=s3.serve_forever, daemon=True).start()
    serve(Registry, A.port_file, A.tls_cert, A.tls_key, A.bind, A.port).serve_forever()


if __name__ == "__main__":
    main()
