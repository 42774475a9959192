#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""SOCI fixtures for the integration tests: zTOCs and SOCI index manifests,
written from the published formats (soci-snapshotter's ztoc.fbs and its
gzip zinfo serialization; docs/formats.md, "SOCI"), never with stratafs
code. Python 3 standard library only.

Checkpoints are true zran access points of the gzip layer as the registry
serves it (made by skopeo or umoci, not by us): zlib's own inflate() with
Z_BLOCK, reached through ctypes because Python's zlib module cannot stop at
deflate block ends nor tell the bit position. Exactly SOCI's rule: one
access point right after the first gzip header, then one at the end of a
deflate block whenever more than SPAN uncompressed bytes came out since
the previous one (never after the last block of a member); each keeps the
unused bits of its first byte and the 32 KiB of output before it.

  soci_build.py ztoc LAYER.gz OUT [--span N] [--bad-span K] [--max-span-id N]
        [--lie-mode NAME] [--zinfo-v1 1]
        zTOC of a gzip layer; prints "<digest> <size> <spans>" of OUT.
        Forgeries for the attack tests: --bad-span writes a wrong digest for
        span K, --max-span-id adds N to max_span_id, --lie-mode flips the
        group/other write bits of member NAME (as the tar spells it).
        --zinfo-v1 1 writes the checkpoints as zinfo version 1 (checkpoint 0
        left out: the layer's gzip header must be 10 bytes).
  soci_build.py index v1|v2 OUT [--span N] [--subject MANIFEST MEDIATYPE]
        LAYERDIGEST LAYERMT ZTOC [LAYERDIGEST LAYERMT ZTOC ...]
        the SOCI index manifest (an OCI image manifest whose layers are the
        zTOCs, annotated with span size N, default 65536); v1 names the
        image manifest as its subject.
  soci_build.py annotate MANIFEST SOCI_INDEX_DIGEST OUT
        the image manifest with com.amazon.soci.index-digest (SOCI v2).
  soci_build.py imageindex OUT MANIFEST SOCI_INDEX [OS/ARCH]
        the OCI image index of a SOCI v2 image: the image manifest and its
        SOCI index manifest, both for the platform.
  soci_build.py referrers OUT ARTIFACT_MANIFEST
        the referrers fallback-tag index listing one SOCI v1 index manifest.
"""
import ctypes
import ctypes.util
import hashlib
import io
import json
import struct
import sys
import tarfile

WINSIZE = 32768
Z_BLOCK = 5
Z_STREAM_END = 1
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SOCI_V1 = "application/vnd.amazon.soci.index.v1+json"
SOCI_V2 = "application/vnd.amazon.soci.index.v2+json"
EMPTY_JSON = b"{}"


class ZStream(ctypes.Structure):
    _fields_ = [("next_in", ctypes.c_void_p), ("avail_in", ctypes.c_uint),
                ("total_in", ctypes.c_ulong), ("next_out", ctypes.c_void_p),
                ("avail_out", ctypes.c_uint), ("total_out", ctypes.c_ulong),
                ("msg", ctypes.c_char_p), ("state", ctypes.c_void_p),
                ("zalloc", ctypes.c_void_p), ("zfree", ctypes.c_void_p),
                ("opaque", ctypes.c_void_p), ("data_type", ctypes.c_int),
                ("adler", ctypes.c_ulong), ("reserved", ctypes.c_ulong)]


def zran(blob, span):
    """[(in, out, bits, window)] as soci-snapshotter's zinfo builder makes them."""
    z = ctypes.CDLL(ctypes.util.find_library("z") or "libz.so.1")
    z.zlibVersion.restype = ctypes.c_char_p
    strm = ZStream()
    if z.inflateInit2_(ctypes.byref(strm), 47, z.zlibVersion(), ctypes.sizeof(ZStream)) != 0:
        raise SystemExit("inflateInit2 failed")
    src = ctypes.create_string_buffer(blob, len(blob))
    window = ctypes.create_string_buffer(WINSIZE)
    base = ctypes.addressof(src)
    strm.next_in, strm.avail_in = base, len(blob)
    strm.avail_out = 0
    totin = totout = last = 0
    points = []
    while True:
        if strm.avail_out == 0:
            strm.avail_out, strm.next_out = WINSIZE, ctypes.addressof(window)
        totin += strm.avail_in
        totout += strm.avail_out
        ret = z.inflate(ctypes.byref(strm), Z_BLOCK)
        totin -= strm.avail_in
        totout -= strm.avail_out
        if ret not in (0, Z_STREAM_END):
            raise SystemExit("inflate: %d" % ret)
        if ret == Z_STREAM_END:
            if strm.avail_in == 0:
                break
            z.inflateReset2(ctypes.byref(strm), 47)  # the next gzip member
            continue
        dt = strm.data_type
        if (dt & 128) and not (dt & 64) and (totout == 0 or totout - last > span):
            left = strm.avail_out
            w = window.raw
            win = (w[WINSIZE - left:] if left else b"") + w[:WINSIZE - left]
            points.append((totin, totout, dt & 7, win))
            last = totout
        if strm.avail_in == 0:
            raise SystemExit("gzip stream truncated")
    z.inflateEnd(ctypes.byref(strm))
    return points


def zinfo_blob(points, span, v1=False):
    """The v2 serialization: every checkpoint, checkpoint 0 included; v1
    leaves checkpoint 0 out (it must be "after a 10-byte header")."""
    out = [struct.pack("<iq", len(points), span)]
    if v1 and (points[0][0], points[0][2]) != (10, 0):
        raise SystemExit("zinfo v1 needs a 10-byte gzip header")
    for cin, cout, bits, win in points[1:] if v1 else points:
        out.append(struct.pack("<qqB", cin, cout, bits) + win)
    return b"".join(out)


# ---- FlatBuffers, written front to back: every offset points forward ----

class Table:
    def __init__(self, fields):
        self.fields = fields  # [(id, kind, value)]: kind in i64 i32 u32 i8 str vec_tab vec_str bytes tab


class FB:
    def __init__(self):
        self.buf = bytearray()

    def align(self, n):
        while len(self.buf) % n:
            self.buf.append(0)

    def patch(self, at, target):
        struct.pack_into("<I", self.buf, at, target - at)

    def string(self, s):
        self.align(4)
        pos = len(self.buf)
        self.buf += struct.pack("<I", len(s)) + s + b"\0"
        return pos

    def vector(self, kind, items):
        self.align(8 if kind == "bytes" else 4)
        if kind == "bytes":
            while (len(self.buf) + 4) % 8:  # keep the bytes 8-aligned, as flatc does not care
                self.buf.append(0)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(items)) + items
            return pos
        pos = len(self.buf)
        self.buf += struct.pack("<I", len(items))
        slots = []
        for _ in items:
            slots.append(len(self.buf))
            self.buf += b"\0\0\0\0"
        for slot, it in zip(slots, items):
            self.patch(slot, self.table(it) if kind == "vec_tab" else self.string(it))
        return pos

    def table(self, t):
        size = {"i64": 8, "i32": 4, "u32": 4, "i8": 1}
        # layout: soffset, then 8-byte scalars, 4-byte ones and offsets, bytes
        order = sorted(t.fields, key=lambda f: -size.get(f[1], 4))
        offs, cur = {}, 4
        for fid, kind, _ in order:
            n = size.get(kind, 4)
            cur = (cur + n - 1) // n * n
            offs[fid] = cur
            cur += n
        tsize = (cur + 3) // 4 * 4
        nids = max([f[0] for f in t.fields] + [-1]) + 1
        self.align(2)
        vt = len(self.buf)
        self.buf += struct.pack("<HH", 4 + 2 * nids, tsize)
        self.buf += b"".join(struct.pack("<H", offs.get(i, 0)) for i in range(nids))
        self.align(8)
        pos = len(self.buf)
        self.buf += struct.pack("<i", pos - vt) + b"\0" * (tsize - 4)
        later = []
        for fid, kind, val in t.fields:
            at = pos + offs[fid]
            if kind == "i64":
                struct.pack_into("<q", self.buf, at, val)
            elif kind == "i32":
                struct.pack_into("<i", self.buf, at, val)
            elif kind == "u32":
                struct.pack_into("<I", self.buf, at, val)
            elif kind == "i8":
                struct.pack_into("<b", self.buf, at, val)
            else:
                later.append((at, kind, val))
        for at, kind, val in later:
            if kind == "str":
                self.patch(at, self.string(val))
            elif kind == "tab":
                self.patch(at, self.table(val))
            else:
                self.patch(at, self.vector(kind, val))
        return pos

    def finish(self, root):
        self.buf += b"\0" * 8
        self.patch(0, self.table(root))
        return bytes(self.buf)


def rfc3339(sec, nsec):
    """Go's time.MarshalText of a UTC time: fraction without trailing zeros."""
    import datetime
    d = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=sec)
    s = d.strftime("%Y-%m-%dT%H:%M:%S")
    if nsec:
        s += ("." + "%09d" % nsec).rstrip("0")
    return s + "Z"


def mtime_of(ti):
    raw = ti.pax_headers.get("mtime")
    if raw is None:
        return int(ti.mtime), 0
    whole, _, frac = raw.partition(".")
    sec = int(whole)
    nsec = int((frac + "000000000")[:9]) if frac else 0
    if sec < 0 and nsec:
        sec, nsec = sec - 1, 1000000000 - nsec
    return sec, nsec


TYPES = {tarfile.REGTYPE: "reg", tarfile.AREGTYPE: "reg", tarfile.CONTTYPE: "reg",
         tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
         tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}


def toc_entries(tar_bytes, lie_mode=None):
    # umoci writes no end-of-archive blocks and leaves the last member
    # unpadded (docs/tar.md); Go's reader, SOCI's, takes that: so does ours
    # with the padding and the end blocks added (offsets are unchanged).
    tar_bytes += b"\0" * (-len(tar_bytes) % 512 + 1024)
    tf = tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:")
    out = []
    for ti in tf:
        if ti.type not in TYPES:
            raise SystemExit("unsupported tar member type %r (%s)" % (ti.type, ti.name))
        sec, nsec = mtime_of(ti)
        name = ti.name + ("/" if ti.isdir() else "")
        pax = [Table([(0, "str", k.encode("utf-8", "surrogateescape")),
                      (1, "str", v.encode("utf-8", "surrogateescape"))])
               for k, v in sorted(ti.pax_headers.items())]
        out.append(Table([
            (0, "str", name.encode("utf-8", "surrogateescape")),
            (1, "str", TYPES[ti.type].encode()),
            (2, "i64", ti.offset_data), (3, "i64", ti.size),
            (4, "str", ti.linkname.encode("utf-8", "surrogateescape")),
            (5, "i64", ti.mode ^ (0o022 if name == lie_mode else 0)),
            (6, "u32", ti.uid), (7, "u32", ti.gid),
            (8, "str", ti.uname.encode()), (9, "str", ti.gname.encode()),
            (10, "str", rfc3339(sec, nsec).encode()),
            (11, "i64", ti.devmajor), (12, "i64", ti.devminor),
            (13, "vec_tab", pax)]))
    return out


def ztoc(layer_path, out_path, span, bad_span=None, max_span_delta=0, lie_mode=None,
         zinfo_v1=False):
    import zlib
    blob = open(layer_path, "rb").read()
    d = zlib.decompressobj(47)
    tar_bytes, rest = d.decompress(blob), d.unused_data
    while rest:  # more gzip members
        d = zlib.decompressobj(47)
        tar_bytes += d.decompress(rest)
        rest = d.unused_data
    points = zran(blob, span)
    digests = []
    for i, (cin, _, bits, _) in enumerate(points):
        start = cin - (1 if bits else 0)
        end = points[i + 1][0] if i + 1 < len(points) else len(blob)
        h = hashlib.sha256(blob[start:end])
        if i == bad_span:
            h.update(b"forged")
        digests.append(b"sha256:" + h.hexdigest().encode())
    root = Table([
        (0, "str", b"0.9"), (1, "str", b"stratafs tests/integration/formats/soci_build.py"),
        (2, "i64", len(blob)), (3, "i64", len(tar_bytes)),
        (4, "tab", Table([(0, "vec_tab", toc_entries(tar_bytes, lie_mode))])),
        (5, "tab", Table([(0, "i8", 1), (1, "i32", len(points) - 1 + max_span_delta),
                          (2, "vec_str", digests),
                          (3, "bytes", zinfo_blob(points, span, zinfo_v1))]))])
    data = FB().finish(root)
    open(out_path, "wb").write(data)
    print("sha256:%s %d %d" % (hashlib.sha256(data).hexdigest(), len(data), len(points)))


def desc(media_type, data, **extra):
    d = {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
         "size": len(data)}
    d.update(extra)
    return d


def dump(path, obj):
    data = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    open(path, "wb").write(data)
    print("sha256:%s %d" % (hashlib.sha256(data).hexdigest(), len(data)))


def soci_index(version, out, args):
    subject, span = None, "65536"
    if args[:1] == ["--span"]:
        span, args = args[1], args[2:]
    if args[:1] == ["--subject"]:
        subject = desc(args[2], open(args[1], "rb").read())
        args = args[3:]
    art = SOCI_V1 if version == "v1" else SOCI_V2
    layers = []
    for i in range(0, len(args), 3):
        data = open(args[i + 2], "rb").read()
        layers.append(desc("application/octet-stream", data, annotations={
            "com.amazon.soci.image-layer-digest": args[i],
            "com.amazon.soci.image-layer-mediaType": args[i + 1],
            "com.amazon.soci.span-size": span}))
    m = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
         "config": desc(art, EMPTY_JSON), "layers": layers,
         "annotations": {"com.amazon.soci.build-tool-identifier": "stratafs tests"}}
    if subject:
        m["subject"] = subject
    dump(out, m)


def main(argv):
    cmd = argv[1]
    if cmd == "ztoc":
        opts = argv[4:]
        kv = dict(zip(opts[::2], opts[1::2]))
        ztoc(argv[2], argv[3], int(kv.get("--span", 65536)),
             int(kv["--bad-span"]) if "--bad-span" in kv else None,
             int(kv.get("--max-span-id", 0)), kv.get("--lie-mode"), "--zinfo-v1" in kv)
    elif cmd == "index":
        soci_index(argv[2], argv[3], argv[4:])
    elif cmd == "annotate":
        m = json.loads(open(argv[2], "rb").read())
        m.setdefault("annotations", {})["com.amazon.soci.index-digest"] = argv[3]
        dump(argv[4], m)
    elif cmd == "imageindex":
        mdata, sdata = open(argv[3], "rb").read(), open(argv[4], "rb").read()
        os_, arch = (argv[5] if len(argv) > 5 else "linux/amd64").split("/")
        plat = {"os": os_, "architecture": arch}
        m = json.loads(mdata)
        mdesc = desc(m.get("mediaType", MT_OCI_MANIFEST), mdata, platform=plat)
        if m.get("annotations"):
            mdesc["annotations"] = m["annotations"]
        sdesc = desc(MT_OCI_MANIFEST, sdata, platform=plat, artifactType=SOCI_V2,
                     annotations={"com.amazon.soci.image-manifest-digest": mdesc["digest"]})
        dump(argv[2], {"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
                       "manifests": [mdesc, sdesc]})
    elif cmd == "referrers":
        sdata = open(argv[3], "rb").read()
        dump(argv[2], {"schemaVersion": 2, "mediaType": MT_OCI_INDEX,
                       "manifests": [desc(MT_OCI_MANIFEST, sdata, artifactType=SOCI_V1)]})
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
