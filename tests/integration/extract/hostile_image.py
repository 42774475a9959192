#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# hostile_image.py OUTDIR VICTIM [dotdot]: an image whose layers try to
# write outside the directory they are extracted to through symlinks they
# plant (with "dotdot", also through a "../" name, which the index refuses
# outright). Writes OUTDIR/layer0.tar.gz, layer1.tar.gz, config.json,
# manifest.json.
import gzip, hashlib, io, json, os, sys, tarfile, time

out, victim = sys.argv[1], sys.argv[2]
NOW = int(time.time())

def sym(name, target):
    t = tarfile.TarInfo(name)
    t.type, t.linkname, t.mtime = tarfile.SYMTYPE, target, NOW
    return t, None

def reg(name, data=b"pwned\n"):
    t = tarfile.TarInfo(name)
    t.size, t.mtime, t.mode = len(data), NOW, 0o644
    return t, data

def dirent(name):
    t = tarfile.TarInfo(name)
    t.type, t.mtime, t.mode = tarfile.DIRTYPE, NOW, 0o755
    return t, None

def hard(name, target):
    t = tarfile.TarInfo(name)
    t.type, t.linkname, t.mtime = tarfile.LNKTYPE, target, NOW
    return t, None

up = "../" * 12 + victim.lstrip("/")
layers = [
    [sym("a", victim), sym("b", up), sym("c", ".."), dirent("d"), sym("d/e", victim),
     sym("s", victim), reg("s/t"), sym("u", "/"), reg("u" + victim + "/via-root"),
    ] + ([reg("../escape-dotdot")] if sys.argv[3:] == ["dotdot"] else []),
    [reg("a/x"), reg("b/y"), reg("c/z"), reg("d/e/w"), hard("h", "a/x"),
     reg("c/c/escape2"), sym("v", victim), dirent("v"), reg("v/inside")],
]

def tar_gz(entries):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    tar = raw.getvalue()
    return tar, gzip.compress(tar, mtime=0)

descs, diff_ids = [], []
for i, entries in enumerate(layers):
    tar, gz = tar_gz(entries)
    with open(os.path.join(out, "layer%d.tar.gz" % i), "wb") as f:
        f.write(gz)
    diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
    descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                  "digest": "sha256:" + hashlib.sha256(gz).hexdigest(), "size": len(gz)})
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
with open(os.path.join(out, "config.json"), "wb") as f:
    f.write(config)
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                       "size": len(config)},
            "layers": descs}
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f)
