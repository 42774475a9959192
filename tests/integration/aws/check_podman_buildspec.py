#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""examples/podman/buildspec.yml, structurally (it cannot run here: no
CodeBuild): it parses as buildspec 0.2 with its phases, starts the store
with `stratafs --store` on the dir that examples/podman/storage.conf names
as its additional layer store ("...:ref"), installs that storage.conf,
builds with buildah and pushes. TAP."""
import os
import re
import sys

import yaml

src = os.environ.get("SRCDIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
n = failed = 0


def check(ok, what):
    global n, failed
    n += 1
    failed += not ok
    print(("ok" if ok else "not ok") + " %d - %s" % (n, what))


with open(os.path.join(src, "examples/podman/buildspec.yml")) as f:
    bs = yaml.safe_load(f)
with open(os.path.join(src, "examples/podman/storage.conf")) as f:
    conf = f.read()
check(str(bs.get("version")) == "0.2", "buildspec version 0.2")
phases = bs.get("phases", {})
check(all(p in phases for p in ("install", "pre_build", "build")), "install, pre_build, build phases")
cmds = [c for p in phases.values() for c in p.get("commands", [])]
text = "\n".join(cmds)
store = bs.get("env", {}).get("variables", {}).get("STORE")
m = re.search(r'additionallayerstores\s*=\s*\["([^"]+):ref"\]', conf)
check(m is not None, "storage.conf names an additional layer store with :ref")
check(m is not None and m.group(1) == store, "... the dir the buildspec mounts the store on (%s)" % store)
check(re.search(r'stratafs --store "\$STORE"', text) is not None, "the store is started with stratafs --store")
check("examples/podman/storage.conf" in text and "/etc/containers/storage.conf" in text,
      "storage.conf is installed for buildah")
check(re.search(r"buildah bud", text) is not None and re.search(r"buildah push", text) is not None,
      "the image is built and pushed with buildah")
check(text.index("stratafs --store") < text.index("buildah bud"), "the store is up before the build")
print("1..%d" % n)
sys.exit(1 if failed else 0)
