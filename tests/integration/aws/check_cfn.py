#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Structural check of examples/codebuild (TAP): template.yml (CloudFormation,
with its short tags), buildspec.yml and iam-policy.json.

  check_cfn.py EXAMPLES_DIR

Checks: the template parses with !Ref/!Sub/!GetAtt/!Join/...; resource types
and their required properties; every Ref/GetAtt/Sub name is defined; the
CodeBuild project is privileged, uses the role and the stratafs secondary
source; the buildspec parses, runs in bash, mounts, overlays (no redirect
or metacopy) and commits the cache (--base the lower mountpoint when one was
mounted, none on the first build, --max-layers, only a succeeding build); the
ECR actions of the role's stratafs-ecr policy equal iam-policy.json's, with
GetAuthorizationToken on "*" and the others on the repository.
"""
import json
import os
import re
import sys

import yaml

N = 0
FAILED = 0


def check(cond, desc, diag=None):
    global N, FAILED
    N += 1
    if cond:
        print("ok %d - %s" % (N, desc))
    else:
        FAILED += 1
        print("not ok %d - %s" % (N, desc))
        if diag:
            print("# " + str(diag).replace("\n", "\n# "))
    return cond


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into their long form."""


def _cfn_tag(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else "Fn::" + suffix
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CfnLoader.add_multi_constructor("!", _cfn_tag)

REQUIRED = {
    "AWS::ECR::Repository": [],
    "AWS::IAM::Role": ["AssumeRolePolicyDocument"],
    "AWS::CodeBuild::Project": ["Artifacts", "Environment", "ServiceRole", "Source"],
}
PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName",
          "AWS::StackId", "AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs"}


def walk(o):
    yield o
    if isinstance(o, dict):
        for v in o.values():
            yield from walk(v)
    elif isinstance(o, list):
        for v in o:
            yield from walk(v)


def references(tpl):
    """(kind, name) of every Ref, GetAtt and ${Var} in Sub."""
    out = []
    for o in walk(tpl.get("Resources", {})) if tpl else []:
        if not isinstance(o, dict) or len(o) != 1:
            continue
        (k, v), = o.items()
        if k == "Ref":
            out.append(("Ref", v))
        elif k == "Fn::GetAtt":
            out.append(("GetAtt", v[0]))
        elif k == "Fn::Sub":
            s = v if isinstance(v, str) else v[0]
            local = set(v[1].keys()) if isinstance(v, list) and len(v) > 1 else set()
            for var in re.findall(r"\$\{([^}!]+)\}", s):
                if var not in local:
                    out.append(("Sub", var.split(".")[0]))
    for o in walk(tpl.get("Outputs", {})) if tpl else []:
        if isinstance(o, dict) and len(o) == 1:
            (k, v), = o.items()
            if k == "Ref":
                out.append(("Ref", v))
            elif k == "Fn::GetAtt":
                out.append(("GetAtt", v[0]))
    return out


def actions(statements):
    acts = set()
    for st in statements:
        a = st.get("Action", [])
        acts.update([a] if isinstance(a, str) else a)
    return acts


def check_template(tpl, policy):
    res = tpl.get("Resources", {})
    check(tpl.get("AWSTemplateFormatVersion") == "2010-09-09", "template format version")
    types = sorted(r.get("Type") for r in res.values())
    check(types == sorted(REQUIRED), "resource types: ECR repository, IAM role, CodeBuild project",
          types)
    for name, r in res.items():
        props = r.get("Properties", {})
        missing = [p for p in REQUIRED.get(r.get("Type"), []) if p not in props]
        check(not missing, "%s (%s) has its required properties" % (name, r.get("Type")), missing)
    defined = set(res) | set(tpl.get("Parameters", {})) | PSEUDO
    bad = [r for r in references(tpl) if r[1] not in defined]
    check(not bad, "every Ref/GetAtt/Sub names a resource, parameter or pseudo parameter", bad)

    proj = next((r["Properties"] for r in res.values() if r["Type"] == "AWS::CodeBuild::Project"), {})
    env = proj.get("Environment", {})
    check(all(k in env for k in ("Type", "ComputeType", "Image")), "project environment: type, compute, image")
    check(env.get("PrivilegedMode") is True, "project runs privileged (FUSE, overlayfs)")
    role_name = next((n for n, r in res.items() if r["Type"] == "AWS::IAM::Role"), None)
    check(proj.get("ServiceRole") == {"Fn::GetAtt": [role_name, "Arn"]}, "project uses the role")
    sec = proj.get("SecondarySources", [])
    check(any(s.get("SourceIdentifier") == "stratafs" for s in sec),
          "stratafs sources are the secondary source 'stratafs'")
    check(proj.get("Source", {}).get("BuildSpec") == "buildspec.yml", "project runs buildspec.yml")

    repo = next((r["Properties"] for r in res.values() if r["Type"] == "AWS::ECR::Repository"), {})
    check(repo.get("ImageTagMutability", "MUTABLE") == "MUTABLE",
          "cache repository tags are mutable (the cache tag moves every build)")

    role = res.get(role_name, {}).get("Properties", {})
    trust = role.get("AssumeRolePolicyDocument", {}).get("Statement", [])
    check(any(s.get("Principal", {}).get("Service") == "codebuild.amazonaws.com" for s in trust),
          "role trusts codebuild.amazonaws.com")
    pol = next((p for p in role.get("Policies", []) if p.get("PolicyName") == "stratafs-ecr"), None)
    if not check(pol is not None, "role has the stratafs-ecr policy"):
        return
    sts = pol["PolicyDocument"]["Statement"]
    got, want = actions(sts), actions(policy["Statement"])
    check(got == want, "ECR actions in the template equal iam-policy.json",
          "only in template: %s; only in iam-policy.json: %s" % (sorted(got - want), sorted(want - got)))
    check({a for a in got if not a.startswith("ecr:")} == set(), "stratafs-ecr grants only ecr: actions")
    for st in sts:
        acts = actions([st])
        if "ecr:GetAuthorizationToken" in acts:
            check(st.get("Resource") == "*" and acts == {"ecr:GetAuthorizationToken"},
                  "GetAuthorizationToken alone, on '*' (it has no resource-level permissions)")
        else:
            check(st.get("Resource") == {"Fn::GetAtt": ["CacheRepository", "Arn"]},
                  "%s scoped to the cache repository" % ",".join(sorted(acts)))


def check_policy(policy):
    check(policy.get("Version") == "2012-10-17", "iam-policy.json version")
    need = {"ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
            "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload", "ecr:PutImage"}
    got = actions(policy.get("Statement", []))
    check(got == need, "iam-policy.json: pull, push and token actions, nothing else",
          sorted(got ^ need))
    check(all(st.get("Effect") == "Allow" for st in policy.get("Statement", [])), "all statements Allow")


def check_buildspec(bs):
    check(str(bs.get("version")) == "0.2", "buildspec version 0.2")
    phases = bs.get("phases", {})
    check(all(p in phases for p in ("install", "pre_build", "build", "post_build")),
          "buildspec has install, pre_build, build, post_build", list(phases))
    cmds = {p: v.get("commands", []) for p, v in phases.items()}
    bad = [c for cs in cmds.values() for c in cs if not isinstance(c, str)]
    check(not bad, "every command is a string (no accidental 'key: value' mapping)", bad)
    text = {p: "\n".join(c for c in cs if isinstance(c, str)) for p, cs in cmds.items()}
    check("meson setup" in text.get("install", "") and "CODEBUILD_SRC_DIR_stratafs" in text.get("install", ""),
          "install builds stratafs from the 'stratafs' secondary source")
    pre = text.get("pre_build", "")
    check(re.search(r"stratafs \"\$CACHE_REF\" \"\$CACHE_ROOT/lower\"", pre) is not None,
          "pre_build mounts the cache with stratafs")
    check("mount -t overlay" in pre and "lowerdir=$CACHE_ROOT/lower" in pre and "upperdir=$CACHE_ROOT/up" in pre,
          "pre_build puts an overlay on the mount")
    post = text.get("post_build", "")
    check(re.search(r"strata commit \"\$CACHE_ROOT/up\" \"\$CACHE_REF\"", post) is not None,
          "post_build commits the upper dir to the cache tag")
    commits = re.findall(r"strata commit [^\n]*", post)
    check(any('--base "$CACHE_ROOT/lower"' in c for c in commits),
          "the commit of a mounted cache has --base = the lower mountpoint (pinned by digest)", commits)
    check(any("--base" not in c for c in commits),
          "the first build (nothing mounted) commits without --base", commits)
    check(commits and all(re.search(r"--max-layers [0-9]+", c) for c in commits),
          "every commit bounds the layer count (--max-layers)", commits)
    check("CODEBUILD_BUILD_SUCCEEDING" in post, "post_build commits only a succeeding build")
    check("redirect_dir=off" in pre and "metacopy=off" in pre,
          "the overlay is mounted with redirect_dir=off,metacopy=off (strata commit refuses both)")
    check((bs.get("env") or {}).get("shell") == "bash",
          "env.shell is bash (one bash instance for all phases, as codebuild_recipe.sh runs it)")
    fin = "\n".join(phases.get("post_build", {}).get("finally", []))
    check("fusermount3 -u" in fin, "post_build always unmounts")


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../examples/codebuild")
    tpl = bs = policy = None
    try:
        with open(os.path.join(d, "template.yml")) as f:
            tpl = yaml.load(f, Loader=CfnLoader)
        check(isinstance(tpl, dict), "template.yml parses (CloudFormation tags)")
    except Exception as e:  # noqa: BLE001 - report any parse failure
        check(False, "template.yml parses (CloudFormation tags)", e)
    try:
        with open(os.path.join(d, "buildspec.yml")) as f:
            bs = yaml.safe_load(f)
        check(isinstance(bs, dict), "buildspec.yml parses")
    except Exception as e:  # noqa: BLE001
        check(False, "buildspec.yml parses", e)
    try:
        with open(os.path.join(d, "iam-policy.json")) as f:
            policy = json.load(f)
        check(isinstance(policy, dict), "iam-policy.json parses")
    except Exception as e:  # noqa: BLE001
        check(False, "iam-policy.json parses", e)
    if policy:
        check_policy(policy)
    if tpl and policy:
        check_template(tpl, policy)
    if bs:
        check_buildspec(bs)
    print("1..%d" % N)
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
