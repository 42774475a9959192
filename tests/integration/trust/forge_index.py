#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What an attacker with push rights can write: stratafs index files that
load and "verify" but describe another tree (index/FORMAT.md layout).

  forge_index.py forge GENUINE OUT
      GENUINE's entries edited, its spans kept (so every span still
      verifies): bin/hello gets the setuid bit, etc/hostname's data points
      at etc/os-release's bytes, data/text.txt gets uid 4242.
  forge_index.py bomb GENUINE OUT N
      GENUINE's header, checkpoints and spans with N directories as its
      entries, for a layer that can hold far fewer (index/FORMAT.md,
      "Bounds"): the index bomb.

Written with the zstd CLI and hashlib, never with stratafs code."""
import hashlib
import struct
import subprocess
import sys
import tempfile

ENV = 64
HDR = 144
ENTRY = 68


def zstd(data, decompress=False):
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        args = ["zstd", "-q", "-c", "-d" if decompress else "-9", f.name]
        return subprocess.run(args, check=True, capture_output=True).stdout


def read(path):
    raw = open(path, "rb").read()
    assert raw[:8] == b"STRATIDX", "not a stratafs index"
    payload = zstd(raw[ENV:], decompress=True)
    assert hashlib.sha256(payload).digest() == raw[32:64]
    return raw[:ENV], payload


def write(path, env, payload):
    z = zstd(payload)
    env = bytearray(env)
    struct.pack_into("<QQ", env, 16, len(payload), len(z))
    env[32:64] = hashlib.sha256(payload).digest()
    open(path, "wb").write(bytes(env) + z)


def sections(p):
    (n_e, n_x, n_c, n_s, n_p) = struct.unpack_from("<5I", p, 88)
    (s_sz, v_sz, w_sz) = struct.unpack_from("<3Q", p, 112)
    off = {"entries": HDR}
    off["lookup"] = off["entries"] + n_e * ENTRY
    off["xattrs"] = off["lookup"] + n_e * 4
    off["ckpts"] = off["xattrs"] + n_x * 16
    off["spans"] = off["ckpts"] + n_c * 32
    off["prefetch"] = off["spans"] + n_s * 64
    off["strings"] = off["prefetch"] + n_p * 4
    off["values"] = off["strings"] + s_sz
    off["windows"] = off["values"] + v_sz
    off["end"] = off["windows"] + w_sz
    return n_e, off


def entries(p):
    n, off = sections(p)
    out = {}
    for i in range(n):
        e = off["entries"] + i * ENTRY
        so = off["strings"] + struct.unpack_from("<I", p, e + 56)[0]
        out[p[so:p.index(b"\0", so)].decode()] = e
    return out


def forge(genuine, out):
    env, p = read(genuine)
    p = bytearray(p)
    ents = entries(p)
    e = ents["bin/hello"]
    struct.pack_into("<I", p, e + 4, struct.unpack_from("<I", p, e + 4)[0] | 0o4000)
    src, dst = ents["etc/os-release"], ents["etc/hostname"]
    p[dst + 40:dst + 56] = p[src + 40:src + 56]  # size and data offset
    struct.pack_into("<I", p, ents["data/text.txt"] + 8, 4242)
    write(out, env, bytes(p))


def bomb(genuine, out, n):
    env, p = read(genuine)
    _, off = sections(p)
    names = [b"d%08d" % i for i in range(n)]
    strings = b"".join(x + b"\0" for x in names)
    ents = bytearray(n * ENTRY)
    for i in range(n):
        struct.pack_into("<B3xIIIqIIIIQQIII", ents, i * ENTRY, 1, 0o755, 0, 0, 0, 0, 0, 0, 0,
                         0, 0, i * 10, 0xFFFFFFFF, 0)
    lookup = b"".join(struct.pack("<I", i) for i in range(n))
    hdr = bytearray(p[:HDR])
    struct.pack_into("<II", hdr, 88, n, 0)  # n_entries, n_xattrs
    struct.pack_into("<I", hdr, 104, 0)     # n_prefetch
    struct.pack_into("<QQ", hdr, 112, len(strings), 0)
    body = (bytes(hdr) + bytes(ents) + lookup + p[off["ckpts"]:off["prefetch"]] + strings +
            p[off["windows"]:off["end"]])
    write(out, env, body)


if __name__ == "__main__":
    if sys.argv[1] == "forge":
        forge(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "bomb":
        bomb(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("usage: forge_index.py forge GENUINE OUT | bomb GENUINE OUT N")
