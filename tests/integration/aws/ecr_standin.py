#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Loopback stand-ins for the AWS side of ECR auth, for the integration tests.

One HTTP(S) server answering:
  POST /  (X-Amz-Target: ...GetAuthorizationToken)  the ECR API. Every request's
          SigV4 signature is recomputed with botocore's signer (an independent
          implementation) from the known secret and compared; a bad or stale
          signature, a wrong key, scope or session token gets 403
          InvalidSignatureException / UnrecognizedClientException. The token
          handed out is base64("AWS:" + --password), expiresAt in exponent form.
  GET  /creds/<id>, /v2/credentials/<id> (the ECS/CodeBuild form)
                        the container credentials endpoint (checks the
                        Authorization header against --container-token)
  PUT  /latest/api/token, GET /latest/meta-data/iam/security-credentials/[role]
                        EC2 IMDSv2
Each request is logged as one JSON line to --log. --throttle N answers the
first N ECR calls with ThrottlingException; --deny answers AccessDenied;
--skew S runs the stand-in's clock S seconds off (signatures are checked
against it and its Date header says it), like a build host with a bad clock.
--token-log FILE makes every token different (password "<--password>-<n>"
for the nth one) and appends {"seq", "password", "expires"} per token to
FILE, for s3_redirect_proxy.py --token-log to check tokens like ECR does.
--bind/--port: a fixed address (default 127.0.0.1, a free port), e.g.
169.254.170.2:80 inside a network namespace (codebuild_recipe.sh).
"""
import argparse
import base64
import datetime
import email.utils
import hashlib
import hmac
import json
import re
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")

A = None
STATE = {"ecr_calls": 0}
IMDS_TOKEN = "imds-session-token-" + hashlib.sha256(str(time.time()).encode()).hexdigest()[:16]


def now():
    return time.time() + A.skew


def log(entry):
    with open(A.log, "a") as f:
        f.write(json.dumps(entry) + "\n")


def iso(t):
    return datetime.datetime.utcfromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def creds_doc(with_code=False):
    d = {"AccessKeyId": A.akid, "SecretAccessKey": A.secret, "Token": A.session_token,
         "Expiration": iso(now() + A.creds_ttl), "RoleArn": "arn:aws:iam::000000000000:role/test"}
    if with_code:
        d.update({"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": iso(now())})
    return d


def verify_sigv4(h, body):
    """None when the request is signed right, else (type, message)."""
    m = AUTH_RE.match(h.headers.get("Authorization", ""))
    if not m:
        return ("IncompleteSignatureException", "malformed Authorization")
    akid, date, region, service, signed, sig = m.groups()
    if akid != A.akid:
        return ("UnrecognizedClientException", "unknown access key")
    if region != A.region or service != "ecr":
        return ("InvalidSignatureException", "scope %s/%s" % (region, service))
    amz_date = h.headers.get("X-Amz-Date", "")
    try:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return ("IncompleteSignatureException", "bad X-Amz-Date")
    if abs(now() - t.timestamp()) > 300 or date != amz_date[:8]:
        return ("InvalidSignatureException", "Signature expired")
    names = signed.split(";")
    for need in ("content-type", "host", "x-amz-date", "x-amz-target"):
        if need not in names:
            return ("InvalidSignatureException", "%s not signed" % need)
    if A.session_token:
        if h.headers.get("X-Amz-Security-Token") != A.session_token or "x-amz-security-token" not in names:
            return ("UnrecognizedClientException", "security token missing or wrong")
    headers = {}
    for n in names:
        v = h.headers.get_all(n) or []
        if not v:
            return ("InvalidSignatureException", "signed header %s absent" % n)
        headers[n] = ",".join(v)
    req = AWSRequest(method=h.command, url="http://%s%s" % (headers["host"], h.path),
                     data=body, headers=headers)
    req.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(A.akid, A.secret, A.session_token or None), "ecr", A.region)
    want = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    if not hmac.compare_digest(want, sig):
        return ("InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided")
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(now(), usegmt=True)

    def reply(self, status, doc, kind, extra=None, ctype="application/x-amz-json-1.1"):
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        log({"kind": kind, "method": self.command, "path": self.path, "status": status})

    def aws_error(self, status, typ, msg):
        self.reply(status, {"__type": "com.amazonaws.ecr#" + typ, "message": msg}, "ecr",
                   {"x-amzn-ErrorType": typ + ":http://internal.amazon.com/coral/com.amazonaws.ecr/"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path != "/" or self.headers.get("X-Amz-Target") != TARGET:
            return self.aws_error(400, "UnknownOperationException", "unknown target")
        if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
            return self.aws_error(400, "SerializationException", "content type")
        STATE["ecr_calls"] += 1
        if STATE["ecr_calls"] <= A.throttle:
            return self.aws_error(400, "ThrottlingException", "Rate exceeded")
        bad = verify_sigv4(self, body)
        if bad:
            return self.aws_error(403, bad[0], bad[1])
        if A.deny:
            return self.aws_error(400, "AccessDeniedException", "not authorized to perform ecr:GetAuthorizationToken")
        try:
            ids = json.loads(body or b"{}").get("registryIds", [])
        except ValueError:
            return self.aws_error(400, "SerializationException", "bad json")
        acct = ids[0] if ids else "000000000000"
        exp = now() + A.expires_in
        password = A.password
        if A.token_log:
            STATE["issued"] = STATE.get("issued", 0) + 1
            password = "%s-%d" % (A.password, STATE["issued"])
            with open(A.token_log, "a") as f:
                f.write(json.dumps({"seq": STATE["issued"], "password": password,
                                    "expires": time.time() + A.expires_in}) + "\n")
        token = base64.b64encode(("AWS:" + password).encode()).decode()
        raw = ('{"authorizationData":[{"authorizationToken":"%s","expiresAt":%.12E,'
               '"proxyEndpoint":"https://%s.dkr.ecr.%s.amazonaws.com"}]}' % (token, exp, acct, A.region))
        self.reply(200, raw.encode(), "ecr")

    def do_GET(self):
        if self.path.startswith("/creds/") or self.path.startswith("/v2/credentials/"):
            if A.container_token and self.headers.get("Authorization") != A.container_token:
                return self.reply(401, {"code": "Unauthorized", "message": "bad token"}, "container")
            return self.reply(200, creds_doc(), "container", ctype="application/json")
        if self.path.startswith("/latest/meta-data/iam/security-credentials/"):
            if self.headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
                return self.reply(401, b"", "imds", ctype="text/plain")
            role = self.path.rsplit("/", 1)[1]
            if not role:
                return self.reply(200, b"test-role\n", "imds", ctype="text/plain")
            if role != "test-role":
                return self.reply(404, b"", "imds", ctype="text/plain")
            return self.reply(200, creds_doc(True), "imds", ctype="text/plain")
        self.reply(404, {"message": "not found"}, "other")

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.reply(200, IMDS_TOKEN.encode(), "imds", ctype="text/plain")
        self.reply(403, b"", "imds", ctype="text/plain")


def main():
    global A
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--akid", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--session-token", default="")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--password", required=True)
    p.add_argument("--expires-in", type=float, default=43200)
    p.add_argument("--creds-ttl", type=float, default=3600)
    p.add_argument("--container-token", default="")
    p.add_argument("--throttle", type=int, default=0)
    p.add_argument("--deny", action="store_true")
    p.add_argument("--skew", type=float, default=0)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--token-log")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    A = p.parse_args()
    srv = ThreadingHTTPServer((A.bind, A.port), Handler)
    if A.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(A.tls_cert, A.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(A.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(A.port_file + ".tmp", A.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
