#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Rewrite the TOC of a real zstd:chunked blob (written by skopeo) to forge
the lies a hostile image could tell; the data frames stay as they are, so
the blob still decompresses to the same tar.

  zchunked_forge.py BLOB POSITION KIND OUT [ARG]
prints the new "digest size checksum position" of OUT. KINDs:
  chunkdigest NAME  the first data chunk of file NAME gets a wrong chunkDigest
  digest NAME       the file NAME (one chunk) gets a wrong digest
  nodigest NAME     the file NAME loses its digest
  overlap           the second chunked file's first chunk starts inside the first's frames
  intotoc NAME      the file NAME's endOffset points into the TOC
  size NAME         the file NAME claims one byte more than its chunks hold
  escape NAME       the entry NAME is renamed "../escaped"
  version           the TOC says version 2
  mode NAME         the file NAME's mode becomes 0600: chunks still verify, the
                    TOC disagrees with its tar (only the whole-layer check sees it)
The TOC is recompressed with the zstd CLI, put back in a skippable frame,
and the 40-byte footer rewritten; nothing else changes."""
import hashlib
import json
import struct
import subprocess
import sys

SKIP = 0x184D2A50


def main():
    blob_path, position, kind, out = sys.argv[1:5]
    arg = sys.argv[5] if len(sys.argv) > 5 else None
    blob = open(blob_path, "rb").read()
    off, ln, _ulen, typ = (int(x) for x in position.split(":"))
    toc = json.loads(subprocess.run(["zstd", "-dc"], input=blob[off:off + ln],
                                    capture_output=True, check=True).stdout)
    ents = toc["entries"]
    named = [e for e in ents if e.get("name") in (arg, "./" + (arg or ""))]
    if arg and not named:
        sys.exit("no entry named %s" % arg)
    if kind == "chunkdigest":
        e = named[0]
        d = e["chunkDigest"] if "chunkDigest" in e else e["digest"]
        key = "chunkDigest" if "chunkDigest" in e else "digest"
        e[key] = "sha256:" + hashlib.sha256(d.encode()).hexdigest()
    elif kind == "digest":
        named[0]["digest"] = "sha256:" + "0" * 64
    elif kind == "nodigest":
        named[0].pop("digest", None)
    elif kind == "overlap":
        firsts = [e for e in ents if e.get("type") == "reg" and "chunkSize" in e]
        firsts[1]["offset"] = firsts[0]["offset"] + 1
    elif kind == "intotoc":
        named[0]["endOffset"] = off + 4
    elif kind == "size":
        named[0]["size"] += 1
    elif kind == "escape":
        named[0]["name"] = "../escaped"
    elif kind == "mode":
        named[0]["mode"] = 0o600
    elif kind == "version":
        toc["version"] = 2
    else:
        sys.exit("unknown kind " + kind)
    raw = json.dumps(toc, separators=(",", ":")).encode()
    ztoc = subprocess.run(["zstd", "-q", "-c", "-9"], input=raw, capture_output=True,
                          check=True).stdout
    head = blob[:off - 8]
    new_off = len(head) + 8
    footer = struct.pack("<4Q", new_off, len(ztoc), len(raw), typ) + b"GnUlInUx"
    new = head + struct.pack("<II", SKIP, len(ztoc)) + ztoc + struct.pack("<II", SKIP, 40) + footer
    open(out, "wb").write(new)
    print("sha256:%s %d sha256:%s %d:%d:%d:%d" % (
        hashlib.sha256(new).hexdigest(), len(new), hashlib.sha256(ztoc).hexdigest(),
        new_off, len(ztoc), len(raw), typ))


if __name__ == "__main__":
    main()
