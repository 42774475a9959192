#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
A registry's blob-upload endpoints over HTTP/2 (TLS, ALPN h2), which resets
the stream (RST_STREAM) of the first upload body after part of it arrived:
what a load balancer or a registry does when it drops one request of a
multiplexed connection. Then it serves normally, so a client that retries
the upload finishes it.

  HEAD   /v2/<repo>/blobs/<digest>          404 until the blob is stored
  POST   /v2/<repo>/blobs/uploads/          202, Location: .../uploads/<n> (the
                                            first --busy ones: 503, Retry-After)
  PUT    /v2/<repo>/blobs/uploads/<n>?digest=  the body: reset the first
                                            time (after --reset-after bytes),
                                            then 201 when the sha256 matches
  PATCH  /v2/<repo>/blobs/uploads/<n>       202 (the streamed form), same reset rule
  DELETE /v2/<repo>/blobs/uploads/<n>       204 (a cancelled session)

Every request is a JSON line in --log: method, path, status ("reset" for a
reset stream). Only the standard library and python3-h2.
"""
import argparse
import hashlib
import json
import socket
import ssl
import threading
import urllib.parse

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.resets_left = args.resets
        self.busy_left = args.busy
        self.sessions = {}   # n -> bytes received by PATCH
        self.stored = set()
        self.next_session = 1
        self.log = open(args.log, "a", buffering=1)

    def record(self, method, path, status):
        self.log.write(json.dumps({"method": method, "path": path, "status": status}) + "\n")


class Stream:
    def __init__(self, headers):
        h = {k.decode(): v.decode() for k, v in headers}
        self.method = h.get(":method", "")
        self.path = h.get(":path", "")
        self.body = bytearray()
        self.reset_armed = False


def respond(conn, sock, sid, status, headers=(), body=b""):
    hs = [(":status", str(status)), ("content-length", str(len(body)))] + list(headers)
    conn.send_headers(sid, hs, end_stream=not body)
    if body:
        conn.send_data(sid, body, end_stream=True)
    sock.sendall(conn.data_to_send())


def finish(st, conn, sock, sid, s):
    url = urllib.parse.urlsplit(s.path)
    parts = url.path.split("/")
    q = urllib.parse.parse_qs(url.query)
    with st.lock:
        if s.method == "HEAD" and "/blobs/" in url.path and "/uploads" not in url.path:
            code = 200 if parts[-1] in st.stored else 404
            st.record(s.method, url.path, code)
            return respond(conn, sock, sid, code)
        if s.method == "POST" and url.path.endswith("/blobs/uploads/") and st.busy_left > 0:
            st.busy_left -= 1
            st.record(s.method, url.path, 503)
            return respond(conn, sock, sid, 503, [("retry-after", str(st.args.retry_after))])
        if s.method == "POST" and url.path.endswith("/blobs/uploads/"):
            n = st.next_session
            st.next_session += 1
            st.sessions[n] = bytearray()
            st.record(s.method, url.path, 202)
            return respond(conn, sock, sid, 202, [("location", url.path + str(n))])
        n = int(parts[-1]) if parts[-1].isdigit() else -1
        if s.method == "DELETE":
            st.sessions.pop(n, None)
            st.record(s.method, url.path, 204)
            return respond(conn, sock, sid, 204)
        if n not in st.sessions:
            st.record(s.method, url.path, 404)
            return respond(conn, sock, sid, 404)
        st.sessions[n] += s.body
        if s.method == "PATCH":
            st.record(s.method, url.path, 202)
            return respond(conn, sock, sid, 202, [("location", url.path),
                                                  ("range", "0-%d" % (len(st.sessions[n]) - 1))])
        digest = q.get("digest", [""])[0]
        got = "sha256:" + hashlib.sha256(st.sessions[n]).hexdigest()
        if got != digest:
            st.record(s.method, url.path, 400)
            return respond(conn, sock, sid, 400, body=b'{"errors":[{"code":"DIGEST_INVALID"}]}')
        st.stored.add(digest)
        del st.sessions[n]
        st.record(s.method, url.path, 201)
        respond(conn, sock, sid, 201, [("docker-content-digest", digest),
                                       ("location", "/v2/blobs/" + digest)])


def serve(st, raw):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(st.args.cert, st.args.key)
    ctx.set_alpn_protocols(["h2"])
    try:
        sock = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        return
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams = {}
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    streams[ev.stream_id] = Stream(ev.headers)
                    s = streams[ev.stream_id]
                    with st.lock:
                        if s.method in ("PUT", "PATCH") and st.resets_left > 0:
                            st.resets_left -= 1
                            s.reset_armed = True
                elif isinstance(ev, h2.events.DataReceived):
                    s = streams.get(ev.stream_id)
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    if s is None:
                        continue
                    s.body += ev.data
                    if s.reset_armed and len(s.body) >= st.args.reset_after:
                        # drop this request mid-body, keep the connection
                        conn.reset_stream(ev.stream_id, h2.errors.ErrorCodes.INTERNAL_ERROR)
                        with st.lock:
                            st.record(s.method, urllib.parse.urlsplit(s.path).path, "reset")
                        del streams[ev.stream_id]
                elif isinstance(ev, h2.events.StreamEnded):
                    s = streams.pop(ev.stream_id, None)
                    if s is not None:
                        finish(st, conn, sock, ev.stream_id, s)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    return
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
        pass
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--resets", type=int, default=1, help="upload bodies to reset")
    ap.add_argument("--reset-after", type=int, default=65536, help="bytes before the reset")
    ap.add_argument("--busy", type=int, default=0,
                    help="session POSTs answered 503 with Retry-After first")
    ap.add_argument("--retry-after", type=int, default=1, help="its seconds")
    args = ap.parse_args()
    st = State(args)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(st, c), daemon=True).start()


if __name__ == "__main__":
    main()
