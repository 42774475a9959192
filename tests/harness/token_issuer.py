#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Test token issuer for distribution's `auth: token` (Docker token auth).

Serves the realm of a distribution registry on loopback:

  GET  /token?service=S&scope=A&scope=B[&offline_token=true]
       Authorization: Basic base64(user:password)      (required)
  POST /token  (OAuth2 form: grant_type=password|refresh_token, username,
       password, refresh_token, service, client_id, scope="A B", access_type)

Every requested scope is granted (this issuer checks who you are, not what
you may do) unless --deny-push is given. Tokens are ES256 JWTs whose header
carries x5c = [signing cert] (issued by the CA in --rootcert, the file
distribution loads as `rootcertbundle`) and kid = the libtrust key id of the
signing key.

distribution 2.8 accepts a token up to `--registry-leeway` seconds after its
`exp` claim; the issuer moves `exp` back by that much so that a token really
stops working `expires_in` seconds after it was issued.

Each request is logged as one JSON line to --log:
  {"time", "method", "user", "grant_type", "service", "scopes": [...],
   "status", "expires_in"}
"""
import argparse
import base64
import hashlib
import json
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization


def libtrust_kid(public_key):
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


class Issuer:
    def __init__(self, args):
        self.args = args
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self.kid = libtrust_kid(cert.public_key())
        self.lock = threading.Lock()
        self.refresh_tokens = {}

    def log(self, rec):
        rec["time"] = time.time()
        line = json.dumps(rec, sort_keys=True)
        with self.lock:
            with open(self.args.log, "a") as f:
                f.write(line + "\n")

    def expires_in(self):
        # Re-read on each request so a test can change it at run time.
        try:
            with open(self.args.expires_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError, TypeError):
            return self.args.expires_in

    def sign(self, user, service, scopes, expires_in):
        now = int(time.time())
        access = []
        for scope in scopes:
            # type:name:actions where name may hold a host:port colon.
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            actions = [a for a in parts[-1].split(",") if a]
            if self.args.deny_push:
                actions = [a for a in actions if a != "push"]
            access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                           "actions": actions})
        claims = {
            "iss": self.args.issuer, "sub": user, "aud": service,
            "iat": now - 1, "nbf": now - 1,
            "exp": now + expires_in - self.args.registry_leeway,
            "jti": secrets.token_hex(12), "access": access,
        }
        headers = {"typ": "JWT", "x5c": self.x5c, "kid": self.kid}
        return jwt.encode(claims, self.key, algorithm="ES256", headers=headers)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stratafs-test-token-issuer"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def basic_user(self):
        hdr = self.headers.get("Authorization", "")
        if not hdr.lower().startswith("basic "):
            return None, False
        try:
            user, _, pw = base64.b64decode(hdr[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, True
        iss = self.server.issuer
        ok = user == iss.args.user and pw == iss.args.password
        return (user if ok else None), True

    def grant(self, method, user, grant_type, service, scopes, offline):
        iss = self.server.issuer
        rec = {"method": method, "user": user, "grant_type": grant_type,
               "service": service, "scopes": scopes}
        if user is None:
            rec["status"] = 401
            iss.log(rec)
            self.reply(401, {"errors": [{"code": "UNAUTHORIZED",
                                         "message": "authentication required"}]},
                       {"WWW-Authenticate": 'Basic realm="stratafs-test-issuer"'})
            return
        if service != iss.args.service:
            rec["status"] = 400
            iss.log(rec)
            self.reply(400, {"errors": [{"code": "INVALID", "message": "unknown service"}]})
            return
        exp = iss.expires_in()
        tok = iss.sign(user, service, scopes, exp)
        out = {"token": tok, "access_token": tok, "expires_in": exp,
               "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if offline:
            rt = secrets.token_urlsafe(24)
            with iss.lock:
                iss.refresh_tokens[rt] = user
            out["refresh_token"] = rt
        rec["status"] = 200
        rec["expires_in"] = exp
        iss.log(rec)
        self.reply(200, out)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND"}]})
            return
        q = urllib.parse.parse_qs(url.query)
        scopes = []
        for s in q.get("scope", []):
            scopes.extend(s.split(" "))
        user, _ = self.basic_user()
        if self.server.issuer.args.anonymous and user is None and \
                "Authorization" not in self.headers:
            user = "anonymous"
        self.grant("GET", user, None, q.get("service", [""])[0], scopes,
                   q.get("offline_token", [""])[0] == "true")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length", "0") or 0)
        if n > 65536:
            self.reply(413, {"errors": [{"code": "TOO_LARGE"}]})
            return
        form = urllib.parse.parse_qs(self.rfile.read(n).decode("utf-8", "replace"))
        if url.path != "/token":
            self.reply(404, {"errors": [{"code": "NOT_FOUND"}]})
            return
        iss = self.server.issuer
        gt = form.get("grant_type", [""])[0]
        user = None
        if gt == "password":
            u = form.get("username", [""])[0]
            p = form.get("password", [""])[0]
            user = u if (u == iss.args.user and p == iss.args.password) else None
        elif gt == "refresh_token":
            with iss.lock:
                user = iss.refresh_tokens.get(form.get("refresh_token", [""])[0])
        scopes = []
        for s in form.get("scope", []):
            scopes.extend(x for x in s.split(" ") if x)
        self.grant("POST", user, gt, form.get("service", [""])[0], scopes,
                   form.get("access_type", [""])[0] == "offline")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--key", required=True, help="PEM private key that signs tokens (EC P-256)")
    ap.add_argument("--cert", required=True, help="PEM cert of that key (goes in x5c)")
    ap.add_argument("--issuer", default="stratafs-test-issuer")
    ap.add_argument("--service", default="stratafs-test-registry")
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--expires-in", type=int, default=300)
    ap.add_argument("--expires-file", help="file holding expires_in (re-read per request)")
    ap.add_argument("--registry-leeway", type=int, default=60)
    ap.add_argument("--anonymous", action="store_true", help="grant requests without credentials")
    ap.add_argument("--deny-push", action="store_true")
    ap.add_argument("--log", required=True)
    args = ap.parse_args()

    host, _, port = args.listen.rpartition(":")
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    srv.issuer = Issuer(args)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
