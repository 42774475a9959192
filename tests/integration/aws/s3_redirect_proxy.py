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

    def send(self, status, body=b"", headers=None, side="registry"):
        self.send_response(status)
        for k, v in (headers or []):
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log({"side": side, "method": self.command, "path": self.path, "status": status,
             "auth": "Authorization" in self.headers, "range": self.headers.get("Range")})


class Registry(Base):
    def forward(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(n) if n else None
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        st, rh, data = upstream(self.command, self.path, hdrs, body)
        out = [(k, v) for k, v in rh.items() if k.lower() not in HOP]
        self.send(st, data, out)

    def blob(self, name, digest):
        hdrs = {k: v for k, v in self.headers.items() if k.lower() in ("authorization",)}
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


def serve(handler, port_file, cert, key):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
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
    A = p.parse_args()
    s3 = serve(S3, A.s3_port_file, A.tls_cert, A.tls_key)
    A.s3_port = s3.server_address[1]
    threading.Thread(target=s3.serve_forever, daemon=True).start()
    serve(Registry, A.port_file, A.tls_cert, A.tls_key).serve_forever()


if __name__ == "__main__":
    main()
