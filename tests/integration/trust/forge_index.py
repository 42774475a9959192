#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What an attacker with push rights can write: stratafs index files that
load and "verify" but describe another tree (index/FORMAT.md layout).

  forge_index.py forge GENUINE OUT
      GENUINE's entries edited, its spans kept (so every span still
      verifies): bin/hello gets the setuid bit, etc/hostname's data points
      at etc/os-release's bytes, data/text.txt gets uid 4242.
  forge_index.py shift GENUINE LAYER.tar.gz OUT
      GENUINE with its last checkpoint moved 512 bytes on (and the span
      boundary with it), every span hash recomputed from the bytes the
      spans then decode to: every span verifies, yet from that checkpoint
      on every byte is served 512 bytes off. Only the whole tar, held
      against the diff_id, shows it.
  forge_index.py bomb GENUINE OUT N
      GENUINE's header, checkpoints and spans with N directories as its
      entries, for a layer that can hold far fewer (index/FORMAT.md,
      "Bounds"): the index bomb.
  forge_index.py relabel INDEX OUT BLOB_DIGEST BLOB_SIZE
      INDEX (of some other layer) claiming to index the blob BLOB_DIGEST of
      BLOB_SIZE bytes: it loads for that layer, and its spans describe
      the other layer's bytes.

Written with the zstd CLI and hashlib, never with stratafs code."""
import gzip
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


def shift(genuine, layer, out, d=512):
    env, p = read(genuine)
    p = bytearray(p)
    _, off = sections(p)
    tar = gzip.open(layer).read()
    n_c, n_s = struct.unpack_from("<I", p, 96)[0], struct.unpack_from("<I", p, 100)[0]
    k = n_c - 1
    assert k >= 1, "the layer needs a second checkpoint"
    ck = off["ckpts"] + k * 32
    u_off = struct.unpack_from("<Q", p, ck + 8)[0]
    struct.pack_into("<Q", p, ck + 8, u_off + d)
    sp = [off["spans"] + i * 64 for i in range(n_s)]
    j = next(i for i in range(n_s) if struct.unpack_from("<I", p, sp[i] + 24)[0] == k)
    u_start, u_len = struct.unpack_from("<QQ", p, sp[j - 1])
    struct.pack_into("<Q", p, sp[j - 1] + 8, u_len + d)
    struct.pack_into("<Q", p, sp[j - 1] + 16, struct.unpack_from("<Q", p, sp[j] + 16)[0])
    p[sp[j - 1] + 32:sp[j - 1] + 64] = hashlib.sha256(tar[u_start:u_start + u_len + d]).digest()
    s_start, s_len = struct.unpack_from("<QQ", p, sp[j])
    struct.pack_into("<QQ", p, sp[j], s_start + d, s_len - d)
    for i in range(j, n_s):
        a, n = struct.unpack_from("<QQ", p, sp[i])
        # decoding starts at the true offset u_off but counts it as u_off + d
        p[sp[i] + 32:sp[i] + 64] = hashlib.sha256(tar[a - d:a - d + n]).digest()
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


def relabel(index, out, digest, size):
    env, p = read(index)
    p = bytearray(p)
    p[8:40] = bytes.fromhex(digest.split(":", 1)[1])
    struct.pack_into("<Q", p, 72, int(size))
    write(out, env, bytes(p))


if __name__ == "__main__":
    if sys.argv[1] == "forge":
        forge(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "shift":
        shift(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "bomb":
        bomb(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "relabel":
        relabel(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit("usage: forge_index.py forge GENUINE OUT | shift GENUINE LAYER OUT | "
                 "bomb GENUINE OUT N | relabel INDEX OUT BLOB_DIGEST BLOB_SIZE")
