#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fault-injecting HTTP/1.1 proxy for registry tests.

Listens on loopback and forwards every request to a plain-HTTP upstream
(a distribution registry), keeping client and upstream connections alive,
unless a rule says otherwise. Rules are switched at run time:

  PUT  /__proxy/rules   body: one rule per line; replaces the rules and
                        resets their counters
  GET  /__proxy/rules   the current rules with their hit counts (JSON)
  --rules-file FILE     the same, re-read whenever FILE's mtime changes

Rule: ACTION [key=value ...]. The first rule that matches a request (and
has not used up `times`) decides what happens to it; no rule = pass.

  pass                          forward unchanged
  drop [after=N]                send the headers and N body bytes (default
                                half the body), then close the connection
  reset                         close the connection without answering
  delay secs=S [where=headers|body] [after=N]
                                sleep S seconds before the headers, or after
                                N body bytes (default half)
  slow rate=BYTES_PER_SECOND    trickle the body
  wan [ms=LO-HI] [rate=BYTES_PER_SECOND]
                                a far region: wait a random LO..HI ms
                                (default 20-40) before each request goes
                                upstream, and send bodies through one link
                                of RATE bytes/s (default 100 MB/s) that all
                                connections share (the benchmarks' "delay
                                proxy": tests/bench/build.sh)
  status code=C [retry_after=S] answer C without asking upstream
  norange                       drop Range/If-Range upstream: answer 200 and
                                the whole body
  widen [by=N]                  ask upstream for N more bytes (default 4096)
                                than a Range request asked (a 206 longer
                                than asked), send the bytes asked for, then
                                close the connection before the rest
  flip [offset=N]               flip one byte (xor 0xff) of the body at N
                                (default: the middle)
  replace file=PATH [content_type=T] [digest=D] [code=C]
                                the body becomes PATH's bytes (upstream
                                status and headers kept, Content-Length
                                fixed; Docker-Content-Digest kept unless
                                digest= is given; status C if given, e.g.
                                200 for a by-digest GET upstream 404s)

  redirect [code=307] [host=localhost]
                                answer CODE with Location: the same path under
                                /__redirected/ on this proxy, named by HOST (a
                                different origin than 127.0.0.1, as ECR's S3
                                is). A request for /__redirected/P is served
                                as P from upstream with the proxy's own
                                --upstream-auth credentials (never the
                                client's); it is logged with "auth": whether
                                the client sent Authorization there (it must
                                not). Only rules whose path= mentions
                                __redirected apply to such requests.

Match keys: path=REGEX (re.search on the request target), method=M,
times=N (apply to N requests, then the rule is spent), skip=N (let the
first N matching requests pass first).

Each request is logged to --log as one JSON line:
  {"time","method","path","range","auth","rule","status","sent"}
("auth": the request carried an Authorization header).
"""
import argparse
import json
import os
import random
import re
import shlex
import socket
import sys
import threading
import time
import http.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
       "te", "trailers", "transfer-encoding", "upgrade", "content-length"}
ACTIONS = {"pass", "drop", "reset", "delay", "slow", "status", "norange", "flip", "replace",
           "redirect", "wan", "widen"}
REDIRECTED = "/__redirected"
MAX_REQ_BODY = 256 << 20


class Rule:
    def __init__(self, text):
        words = shlex.split(text)
        if not words or words[0] not in ACTIONS:
            raise ValueError("unknown action in rule %r" % text)
        self.text = text
        self.action = words[0]
        self.opts = {}
        for w in words[1:]:
            k, sep, v = w.partition("=")
            if not sep:
                raise ValueError("expected key=value, got %r" % w)
            self.opts[k] = v
        self.path = re.compile(self.opts.get("path", ""))
        self.method = self.opts.get("method")
        self.times = int(self.opts["times"]) if "times" in self.opts else None
        self.skip = int(self.opts.get("skip", "0"))
        self.seen = 0
        self.hits = 0

    def take(self, method, path):
        """Under the rules lock: does this rule apply to the request?"""
        if self.method and self.method != method:
            return False
        if not self.path.search(path):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True

    def num(self, key, default=None):
        v = self.opts.get(key)
        return default if v is None else float(v) if "." in v else int(v)


class Rules:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.rules = []
        self.file = path
        self.mtime = None

    def set_text(self, text):
        rules = [Rule(line) for line in text.splitlines()
                 if line.strip() and not line.strip().startswith("#")]
        with self.lock:
            self.rules = rules

    def reload(self):
        if not self.file:
            return
        try:
            st = os.stat(self.file)
        except OSError:
            return
        if st.st_mtime_ns != self.mtime:
            with open(self.file) as f:
                text = f.read()
            self.mtime = st.st_mtime_ns
            self.set_text(text)

    def pick(self, method, path):
        self.reload()
        redirected = path.startswith(REDIRECTED + "/")
        with self.lock:
            for r in self.rules:
                if redirected and REDIRECTED not in r.path.pattern:
                    continue
                if r.take(method, path):
                    return r
        return None

    def dump(self):
        with self.lock:
            return [{"rule": r.text, "hits": r.hits, "seen": r.seen} for r in self.rules]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stratafs-fault-proxy"
    disable_nagle_algorithm = True
    upconn = None

    def log_message(self, fmt, *args):
        pass

    def log_json(self, rule, status, sent):
        rec = {"time": round(time.time(), 3), "method": self.command, "path": self.path,
               "range": self.headers.get("Range"), "auth": "Authorization" in self.headers,
               "rule": rule.text if rule else "pass",
               "status": status, "sent": sent}
        with self.server.log_lock:
            with open(self.server.log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                if len(out) + n > MAX_REQ_BODY:
                    raise ValueError("request body too large")
                out += self.rfile.read(n)
                self.rfile.readline(8)
        n = int(self.headers.get("Content-Length", "0") or 0)
        if n > MAX_REQ_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(n) if n else b""

    def simple(self, code, body, headers=None, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return len(body)

    def control(self, body):
        rules = self.server.rules
        if self.path == "/__proxy/rules" and self.command == "PUT":
            try:
                rules.set_text(body.decode())
            except ValueError as e:
                self.simple(400, (str(e) + "\n").encode(), ctype="text/plain")
                return
            self.simple(200, json.dumps(rules.dump()).encode())
        elif self.path == "/__proxy/rules":
            self.simple(200, json.dumps(rules.dump()).encode())
        else:
            self.simple(404, b"unknown control path\n", ctype="text/plain")

    def asked_range(self):
        """(first, last) of a request's single `bytes=A-B` Range, or None."""
        m = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", "").strip())
        return (int(m.group(1)), int(m.group(2))) if m else None

    def upstream(self, method, body, drop_range, widen=0):
        # A list, not a dict: clients send some headers (Accept) many times.
        hdrs = []
        path = self.path
        redirected = path.startswith(REDIRECTED + "/")
        if redirected:
            path = path[len(REDIRECTED):]
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP or (drop_range and lk in ("range", "if-range")):
                continue
            if redirected and lk in ("authorization", "host"):
                continue
            if widen and lk == "range" and self.asked_range():
                a, b = self.asked_range()
                v = "bytes=%d-%d" % (a, b + widen)
            hdrs.append((k, v))
        if redirected:
            hdrs.append(("Host", self.server.upstream))
            if self.server.upstream_auth:
                hdrs.append(("Authorization", "Basic " + self.server.upstream_auth))
        if body or method in ("PUT", "POST", "PATCH"):
            hdrs.append(("Content-Length", str(len(body))))
        for attempt in (0, 1):
            if self.upconn is None:
                self.upconn = http.client.HTTPConnection(self.server.upstream, timeout=60)
            try:
                c = self.upconn
                c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for k, v in hdrs:
                    c.putheader(k, v)
                c.endheaders(body if body else None)
                return c.getresponse()
            except (OSError, http.client.HTTPException):
                self.upconn.close()
                self.upconn = None
                if attempt:
                    raise
        return None

    def drop_upstream(self):
        if self.upconn is not None:
            self.upconn.close()
            self.upconn = None

    def handle_any(self):
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            self.simple(413, b"{}")
            return
        if self.path.startswith("/__proxy/"):
            self.control(body)
            return
        rule = self.server.rules.pick(self.command, self.path)
        act = rule.action if rule else "pass"
        status, sent = 0, 0
        try:
            status, sent = self.apply(rule, act, body)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
            self.drop_upstream()
            status = status or -1
        self.log_json(rule, status, sent)

    def apply(self, rule, act, body):
        if act == "reset":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return -1, 0
        if act == "status":
            code = rule.num("code", 503)
            extra = {}
            if "retry_after" in rule.opts:
                extra["Retry-After"] = rule.opts["retry_after"]
            err = {429: "TOOMANYREQUESTS"}.get(code, "UNAVAILABLE")
            msg = json.dumps({"errors": [{"code": err, "message": "injected by fault proxy"}]})
            return code, self.simple(code, msg.encode(), extra)
        if act == "redirect":
            host = rule.opts.get("host", "localhost")
            loc = "http://%s:%d%s%s" % (host, self.server.server_address[1], REDIRECTED, self.path)
            return rule.num("code", 307), self.simple(rule.num("code", 307), b"", {"Location": loc})
        if act == "delay" and rule.opts.get("where", "headers") == "headers":
            time.sleep(rule.num("secs", 1))
        if act == "wan":
            lo, _, hi = rule.opts.get("ms", "20-40").partition("-")
            time.sleep(random.uniform(float(lo), float(hi or lo)) / 1000.0)
        resp = self.upstream(self.command, body, act == "norange",
                             rule.num("by", 4096) if act == "widen" else 0)
        payload = None
        length = resp.getheader("Content-Length")
        if act in ("flip", "replace") or length is None:
            payload = resp.read()
            if act == "flip" and payload:
                off = rule.num("offset", len(payload) // 2)
                off = min(max(off, 0), len(payload) - 1)
                payload = payload[:off] + bytes([payload[off] ^ 0xFF]) + payload[off + 1:]
            elif act == "replace":
                with open(rule.opts["file"], "rb") as f:
                    payload = f.read()
            length = len(payload)
        length = int(length)
        status, reason = resp.status, resp.reason
        if act == "replace" and "code" in rule.opts:
            status, reason = rule.num("code"), None
        self.send_response(status, reason)
        for k, v in resp.getheaders():
            lk = k.lower()
            if lk in HOP or lk in ("server", "date"):
                continue
            if act == "replace" and lk == "content-type" and "content_type" in rule.opts:
                continue
            if act == "replace" and lk == "docker-content-digest" and "digest" in rule.opts:
                continue
            self.send_header(k, v)
        if act == "replace":
            if "content_type" in rule.opts:
                self.send_header("Content-Type", rule.opts["content_type"])
            if "digest" in rule.opts:
                self.send_header("Docker-Content-Digest", rule.opts["digest"])
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD" or resp.status in (204, 304):
            resp.read()
            self.wfile.flush()
            return status, 0
        return status, self.send_body(rule, act, resp, payload, length)

    def send_body(self, rule, act, resp, payload, length):
        cut = None
        if act in ("drop", "delay") and not (act == "delay" and
                                             rule.opts.get("where", "headers") == "headers"):
            cut = rule.num("after", length // 2)
        if act == "widen" and resp.status == 206 and self.asked_range():
            a, b = self.asked_range()
            cut = min(length, b - a + 1)
        rate = rule.num("rate", 0) if act == "slow" else 0
        link = rule.num("rate", 100000000) if act == "wan" else 0
        sent = 0
        chunk = 16384 if rate == 0 else max(1, min(16384, int(rate) // 10))
        chunk = 65536 if link else chunk
        while sent < length:
            want = min(chunk, length - sent)
            if cut is not None and sent < cut:
                want = min(want, cut - sent)
            if cut is not None and sent == cut:
                self.wfile.flush()
                if act in ("drop", "widen"):
                    self.close_connection = True
                    self.drop_upstream()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return sent
                time.sleep(rule.num("secs", 1))
                cut = None
                continue
            data = payload[sent:sent + want] if payload is not None else resp.read(want)
            if not data:
                # Upstream ended early: pass the truncation on.
                self.close_connection = True
                self.drop_upstream()
                return sent
            self.wfile.write(data)
            sent += len(data)
            if link:
                self.server.link.send(len(data), link)
            if rate:
                self.wfile.flush()
                time.sleep(len(data) / rate)
        self.wfile.flush()
        return sent

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

    def finish(self):
        self.drop_upstream()
        super().finish()


class Link:
    """One shared link: a chunk leaves when the ones before it have, at RATE bytes/s."""

    def __init__(self):
        self.lock = threading.Lock()
        self.free_at = 0.0

    def send(self, n, rate):
        with self.lock:
            now = time.monotonic()
            self.free_at = max(now, self.free_at) + n / rate
            wait = self.free_at - now
        if wait > 0:
            time.sleep(wait)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file")
    ap.add_argument("--upstream", required=True, help="host:port of a plain-HTTP registry")
    ap.add_argument("--log", required=True)
    ap.add_argument("--rules-file")
    ap.add_argument("--upstream-auth", help="USER:PASS for requests under /__redirected/")
    ap.add_argument("rules", nargs="*", help="initial rules")
    args = ap.parse_args()

    host, _, port = args.listen.rpartition(":")
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    srv.daemon_threads = True
    srv.upstream = args.upstream
    srv.log_path = args.log
    srv.upstream_auth = None
    if args.upstream_auth:
        import base64
        srv.upstream_auth = base64.b64encode(args.upstream_auth.encode()).decode()
    srv.log_lock = threading.Lock()
    srv.link = Link()
    srv.rules = Rules(args.rules_file)
    srv.rules.set_text("\n".join(args.rules))
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(args.port_file + ".tmp", args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
