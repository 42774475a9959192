#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Forge variants of an eStargz image copied with `skopeo copy ... dir:DIR`
(manifest.json + blobs named by hex digest), for the attack and legacy tests
of estargz_*.sh. Writes new blobs into DIR and the new manifest to OUT; the
caller pushes every file of DIR, then OUT by digest.

  wrong-pin DIR OUT         layer 0's toc.digest annotation names other bytes
  bad-chunk DIR PATH OUT    the TOC entry of PATH says a wrong chunkDigest and
                            digest; the TOC member is rewritten, and the blob
                            digest, toc.digest, diff_id and config follow it:
                            a consistent, pinned image whose TOC lies about
                            one file's bytes
  lie-mode DIR PATH OUT     the same for PATH's mode (0644 -> 0755): a TOC
                            whose chunks all check out but which does not
                            describe the tar it sits in
  legacy DIR OUT            every layer ends in the 47-byte legacy stargz
                            footer instead of eStargz's 51 bytes, with no
                            eStargz annotations (nothing pins its TOC)

The blob layout is eStargz as stargz-snapshotter writes it (docs/formats.md):
the footer's extra field says "%016xSTARGZ" with the TOC member's offset.
"""
import hashlib
import json
import os
import sys
import zlib

ANN_TOC = "containerd.io/snapshot/stargz/toc.digest"
ANN_USIZE = "io.containers.estargz.uncompressed-size"


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def blob_path(d, digest):
    return os.path.join(d, digest.split(":", 1)[1])


def put_blob(d, data):
    digest = sha(data)
    with open(blob_path(d, digest), "wb") as f:
        f.write(data)
    return digest


def gunzip_all(b):
    out = b""
    while b:
        z = zlib.decompressobj(31)
        out += z.decompress(b)
        b = z.unused_data
    return out


def gzip_member(data):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def footer(off, legacy):
    x = b"%016xSTARGZ" % off
    if legacy:
        extra = len(x).to_bytes(2, "little") + x
    else:
        extra = (4 + len(x)).to_bytes(2, "little") + b"SG" + len(x).to_bytes(2, "little") + x
    return bytes([0x1F, 0x8B, 8, 4, 0, 0, 0, 0, 0, 0xFF]) + extra + b"\x01\x00\x00\xff\xff" + bytes(8)


def toc_offset(b):
    tail = b[-51:]
    if tail[12:14] == b"SG":
        return int(tail[16:32], 16), 51
    return int(b[-47 + 12:-47 + 28], 16), 47


def split_toc(b):
    """(prefix, TOC tar header, JSON bytes) of an eStargz blob."""
    off, fsize = toc_offset(b)
    raw = gunzip_all(b[off:len(b) - fsize])
    size = int(raw[124:136].strip(b"\0 ") or b"0", 8)
    return b[:off], raw[:512], raw[512:512 + size]


def toc_member(hdr, js):
    h = bytearray(hdr)
    h[124:136] = b"%011o\0" % len(js)
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    pad = (512 - len(js) % 512) % 512
    return gzip_member(bytes(h) + js + bytes(pad) + bytes(1024))


def load(d):
    with open(os.path.join(d, "manifest.json"), "rb") as f:
        m = json.load(f)
    with open(blob_path(d, m["config"]["digest"]), "rb") as f:
        c = json.load(f)
    return m, c


def save(d, m, c, out):
    cb = json.dumps(c, separators=(",", ":")).encode()
    m["config"]["digest"] = put_blob(d, cb)
    m["config"]["size"] = len(cb)
    with open(out, "wb") as f:
        f.write(json.dumps(m, separators=(",", ":")).encode())


def wrong_pin(d, out):
    m, c = load(d)
    m["layers"][0]["annotations"][ANN_TOC] = sha(b"not the TOC")
    save(d, m, c, out)


def lie(d, path, out, change):
    m, c = load(d)
    for i in reversed(range(len(m["layers"]))):
        layer = m["layers"][i]
        with open(blob_path(d, layer["digest"]), "rb") as f:
            b = f.read()
        prefix, hdr, js = split_toc(b)
        toc = json.loads(js)
        hits = [e for e in toc["entries"] if e["name"] == path and e["type"] == "reg"]
        if not hits:
            continue
        change(hits[-1])
        njs = json.dumps(toc, indent="\t").encode()
        nb = prefix + toc_member(hdr, njs) + footer(len(prefix), False)
        layer["digest"] = put_blob(d, nb)
        layer["size"] = len(nb)
        layer["annotations"][ANN_TOC] = sha(njs)
        tar = gunzip_all(nb)
        layer["annotations"][ANN_USIZE] = str(len(tar))
        c["rootfs"]["diff_ids"][i] = sha(tar)
        save(d, m, c, out)
        return
    sys.exit("no layer's TOC has " + path)


def bad_chunk(d, path, out):
    def change(e):
        e["chunkDigest"] = e["digest"] = sha(b"these are not the bytes of " + path.encode())
    lie(d, path, out, change)


def lie_mode(d, path, out):
    def change(e):
        e["mode"] = 0o755
    lie(d, path, out, change)


def legacy(d, out):
    m, c = load(d)
    for layer in m["layers"]:
        with open(blob_path(d, layer["digest"]), "rb") as f:
            b = f.read()
        off, fsize = toc_offset(b)
        nb = b[:len(b) - fsize] + footer(off, True)
        layer["digest"] = put_blob(d, nb)
        layer["size"] = len(nb)
        layer.pop("annotations", None)
    save(d, m, c, out)


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "wrong-pin":
        wrong_pin(a[1], a[2])
    elif len(a) == 4 and a[0] == "bad-chunk":
        bad_chunk(a[1], a[2], a[3])
    elif len(a) == 4 and a[0] == "lie-mode":
        lie_mode(a[1], a[2], a[3])
    elif len(a) == 3 and a[0] == "legacy":
        legacy(a[1], a[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
