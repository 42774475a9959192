#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Run a buildspec.yml's phases the way AWS CodeBuild does, for
codebuild_recipe.sh.

  codebuild_run.py BUILDSPEC --skip PHASE... --status FILE

The environment of this process is the build environment (what CodeBuild
and the project set); the buildspec's env.variables are added where the
environment does not set them already (project variables win over the
buildspec's, as in CodeBuild). Every command of every phase runs, in
order, in ONE shell instance (buildspec 0.2: exports carry over), in
$CODEBUILD_SRC_DIR, with the shell env.shell names (bash or /bin/sh).
Phase transitions follow CodeBuild's defaults (on-failure: ABORT):
a failed command ends its phase (the rest of its commands are skipped), the
phase's `finally` commands run anyway; a failed install or pre_build ends
the build; a failed build sets CODEBUILD_BUILD_SUCCEEDING=0 and post_build
still runs. Skipped phases (--skip) are not run at all.

Each command's output goes to stdout with "[Container]" lines around it,
like the CodeBuild log; FILE gets one JSON object: {phase: "SUCCEEDED" |
"FAILED" | "SKIPPED" | "NOT_RUN"}, plus "build": the build status.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import yaml

PHASES = ["install", "pre_build", "build", "post_build"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("buildspec")
    p.add_argument("--skip", nargs="*", default=[])
    p.add_argument("--status", required=True)
    a = p.parse_args()
    with open(a.buildspec) as f:
        bs = yaml.safe_load(f)
    if str(bs.get("version")) != "0.2":
        sys.exit("buildspec version %r: only 0.2 is emulated" % bs.get("version"))
    env = bs.get("env", {}) or {}
    shell = env.get("shell", "/bin/sh")
    if shell not in ("bash", "/bin/sh"):
        sys.exit("env.shell %r is not a Linux shell CodeBuild knows" % shell)
    phases = bs.get("phases", {}) or {}
    tmp = tempfile.mkdtemp(prefix="codebuild-run.")
    lines = ["CODEBUILD_BUILD_SUCCEEDING=${CODEBUILD_BUILD_SUCCEEDING:-1}",
             "export CODEBUILD_BUILD_SUCCEEDING", "__st=%s" % json.dumps(os.path.join(tmp, "st"))]
    for k, v in (env.get("variables", {}) or {}).items():
        if k not in os.environ:
            lines.append("export %s=%s" % (k, shquote(str(v))))
    lines.append("cd \"$CODEBUILD_SRC_DIR\" || exit 90")
    n = 0

    def run_cmds(cmds, phase, what):
        nonlocal n
        out = []
        for c in cmds or []:
            if not isinstance(c, str):
                sys.exit("%s: a command that is not a string: %r" % (phase, c))
            n += 1
            path = os.path.join(tmp, "cmd%03d" % n)
            with open(path, "w") as f:
                f.write(c + "\n")
            first = c.strip().splitlines()[0] if c.strip() else ""
            out += ["if [ \"$__ok\" = 1 ]; then",
                    "  echo %s" % shquote("[Container] Running command " + first[:200]),
                    "  . %s" % shquote(path),
                    "  __rc=$?",
                    "  if [ $__rc != 0 ]; then __ok=0; echo \"[Container] Command did not exit "
                    "successfully (%s) exit status $__rc\"; fi" % what,
                    "fi"]
        return out

    for ph in PHASES:
        if ph in a.skip:
            lines.append("echo '%s SKIPPED' >>\"$__st\"" % ph)
            continue
        spec = phases.get(ph)
        if spec is None:
            continue
        gate = {"install": "true", "pre_build": "[ \"$__aborted\" != 1 ]",
                "build": "[ \"$__aborted\" != 1 ]", "post_build": "[ \"$__aborted\" != 1 ]"}[ph]
        lines += ["if %s; then" % gate, "echo '[Container] Entering phase %s'" % ph.upper(), "__ok=1"]
        lines += run_cmds(spec.get("commands"), ph, "commands")
        lines += ["__phase_ok=$__ok", "__ok=1"]
        lines += run_cmds(spec.get("finally"), ph, "finally")
        lines += ["[ \"$__ok\" = 1 ] || __phase_ok=0",
                  "if [ \"$__phase_ok\" = 1 ]; then echo '%s SUCCEEDED' >>\"$__st\"; else" % ph,
                  "  echo '%s FAILED' >>\"$__st\"; __failed=1" % ph]
        if ph in ("install", "pre_build"):
            lines.append("  __aborted=1")
        if ph == "build":
            lines.append("  CODEBUILD_BUILD_SUCCEEDING=0")
        lines += ["fi",
                  "echo \"[Container] Phase complete: %s State: $(tail -n1 \"$__st\" | cut -d' ' -f2)\"" % ph.upper(),
                  "else echo '%s NOT_RUN' >>\"$__st\"; fi" % ph]
    lines.append("[ \"$__failed\" = 1 ] && exit 1; exit 0")
    script = os.path.join(tmp, "build.sh")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    argv = ["bash", "--noprofile", "--norc", script] if shell == "bash" else ["/bin/sh", script]
    rc = subprocess.call(argv)
    st = {}
    try:
        with open(os.path.join(tmp, "st")) as f:
            for line in f:
                k, v = line.split()
                st[k] = v
    except FileNotFoundError:
        pass
    st["build"] = "SUCCEEDED" if rc == 0 else "FAILED"
    with open(a.status, "w") as f:
        json.dump(st, f)
    return rc


def shquote(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    sys.exit(main())
