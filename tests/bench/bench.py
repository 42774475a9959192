#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Helpers for tests/bench/run.sh (stdlib only, /usr/bin/python3).

Subcommands:
  gen-tree KIND DIR --mode quick|full   write the files of one layer into DIR
  ttfb (--file F | --mounted MNT) --timeout S --log L -- CMD...
                           start CMD, poll F until its first byte can be read
                           (or until MNT is in /proc/mounts); prints
                           "<seconds> <pid>" (CMD keeps running)
  reglog LOG --from N [--names a=sha256:..]
                           bytes served per blob digest by the registry from
                           access-log line N on (JSON lines of distribution)
  stats-json FILE          normalise `strata stats --json` output (see below)
  hyperfine-med FILE       median seconds per command of a hyperfine export
  table RESULTS.jsonl      print the result table
"""
import json
import math
import os
import random
import re
import subprocess
import sys
import time

MiB = 1 << 20

# Sizes per mode. "small" is the many-small-files layer (also the tree of
# benchmark 4); "big" holds one large file in its own layer (benchmark 3);
# "data-a"/"data-b" are medium files; the file read by benchmarks 1 and 2
# lives in "data-b".
MODES = {
    "quick": {"small_entries": 20000, "big_mib": 96, "data_a_mib": 40, "data_b_mib": 40},
    "full": {"small_entries": 100000, "big_mib": 300, "data_a_mib": 250, "data_b_mib": 250},
}
TARGET_PATH = "opt/data-b/m-050-target.bin"
TARGET_SIZE = 1 * MiB + 4097
BIG_PATH = "usr/share/bench/big/big.bin"
SMALL_ROOT = "usr/share/bench/s"


class Noise:
    """Random-ish compressible bytes (gzip ratio ~0.5): each 64 KiB block
    draws from an alphabet of 4, 16 or 64 symbols, or repeats text."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        words = [bytes(self.rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(self.rng.randint(2, 9)))
                 for _ in range(2000)]
        self.text = b" ".join(self.rng.choice(words) for _ in range(40000))[: 1 << 18]
        self.tables = {}
        for k in (4, 16, 64):
            alpha = bytes(range(33, 33 + k))
            self.tables[k] = bytes(alpha[i % k] for i in range(256))

    def block(self, n):
        kind = self.rng.random()
        if kind < 0.25:
            off = self.rng.randrange(0, len(self.text) - n) if n < len(self.text) else 0
            b = self.text[off:off + n]
            return b + os.urandom(n - len(b))
        k = 4 if kind < 0.45 else (16 if kind < 0.8 else 64)
        return os.urandom(n).translate(self.tables[k])

    def write(self, path, size):
        with open(path, "wb") as f:
            left = size
            while left > 0:
                n = min(left, 65536)
                f.write(self.block(n))
                left -= n


def gen_tree(kind, root, mode):
    cfg = MODES[mode]
    noise = Noise(sum(kind.encode()) * 31 + len(mode))
    rng = random.Random(7)
    if kind == "small":
        # ~cfg entries: dirs of 100 files, two levels, some symlinks.
        entries = cfg["small_entries"]
        base = os.path.join(root, SMALL_ROOT)
        pool = b"".join(noise.block(65536) for _ in range(64))  # 4 MiB pool
        made = 0
        d1 = 0
        while made < entries:
            top = os.path.join(base, "d%03d" % d1)
            os.makedirs(top, exist_ok=True)
            made += 1
            for d2 in range(10):
                if made >= entries:
                    break
                sub = os.path.join(top, "e%02d" % d2)
                os.mkdir(sub)
                made += 1
                for i in range(99):
                    if made >= entries:
                        break
                    p = os.path.join(sub, "f%03d.txt" % i)
                    if i % 97 == 96:
                        os.symlink("f%03d.txt" % (i - 1), p)
                    else:
                        r = rng.random()
                        size = int(rng.expovariate(1 / 1200.0)) if r < 0.97 else rng.randint(8192, 65536)
                        off = rng.randrange(0, len(pool) - size - 1)
                        with open(p, "wb") as f:
                            f.write(pool[off:off + size])
                    made += 1
            d1 += 1
    elif kind == "big":
        p = os.path.join(root, BIG_PATH)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        noise.write(p, cfg["big_mib"] * MiB)
    elif kind in ("data-a", "data-b"):
        total = cfg["data_a_mib" if kind == "data-a" else "data_b_mib"] * MiB
        d = os.path.join(root, "opt", kind)
        os.makedirs(d, exist_ok=True)
        i = 0
        while total > 0:
            size = min(total, rng.randint(2 * MiB, 16 * MiB) + rng.randint(0, 4095))
            noise.write(os.path.join(d, "m-%03d.bin" % (i * 10)), size)
            total -= size
            i += 1
            if kind == "data-b" and i == 5:
                noise.write(os.path.join(root, TARGET_PATH), TARGET_SIZE)
    else:
        sys.exit("gen-tree: unknown kind " + kind)


def cmd_ttfb(args):
    f = args[args.index("--file") + 1] if "--file" in args else None
    mnt = args[args.index("--mounted") + 1] if "--mounted" in args else None
    timeout = float(args[args.index("--timeout") + 1])
    log = args[args.index("--log") + 1]
    cmd = args[args.index("--") + 1:]
    t0 = time.monotonic()
    with open(log, "ab") as lf:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf, start_new_session=True)
    exited_ok = False
    while True:
        if f is not None:
            try:
                with open(f, "rb") as fh:
                    b = fh.read(1)
                if len(b) == 1:
                    print("%.6f %d" % (time.monotonic() - t0, p.pid))
                    return 0
            except OSError:
                pass
        else:
            with open("/proc/self/mounts") as fh:
                if any(line.split(" ")[1] == mnt for line in fh):
                    print("%.6f %d" % (time.monotonic() - t0, p.pid))
                    return 0
        rc = p.poll()
        if rc is not None and not exited_ok:
            if rc != 0:
                sys.stderr.write("ttfb: command exited with status %d: %s\n" % (rc, " ".join(cmd)))
                print("FAIL %d" % p.pid)
                return 1
            exited_ok = True  # daemonized: keep polling
        if time.monotonic() - t0 > timeout:
            sys.stderr.write("ttfb: no byte of %s after %.0f s: %s\n" % (f or mnt, timeout, " ".join(cmd)))
            print("FAIL %d" % p.pid)
            return 1
        time.sleep(0.002)


def cmd_reglog(args):
    log = args[0]
    start = int(args[args.index("--from") + 1]) if "--from" in args else 0
    per = {}
    reqs = {}
    other = 0
    with open(log, errors="replace") as fh:
        for n, line in enumerate(fh):
            if n < start or not line.startswith("{"):
                continue
            try:
                j = json.loads(line)
            except ValueError:
                continue
            if j.get("msg") != "response completed":
                continue
            uri = j.get("http.request.uri", "")
            w = int(j.get("http.response.written", 0) or 0)
            m = re.search(r"/blobs/(sha256:[0-9a-f]{64})", uri)
            if m and j.get("http.request.method") == "GET":
                per[m.group(1)] = per.get(m.group(1), 0) + w
                reqs[m.group(1)] = reqs.get(m.group(1), 0) + 1
            else:
                other += w
    print(json.dumps({"blobs": per, "requests": reqs, "other_bytes": other}))


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _find(o, keys):
    """First numeric value under any of @keys, searched breadth-first."""
    queue = [o]
    while queue:
        x = queue.pop(0)
        if isinstance(x, dict):
            for k in keys:
                if k in x and _num(x[k]) is not None:
                    return x[k]
            queue.extend(x.values())
        elif isinstance(x, list):
            queue.extend(x)
    return None


def stats_normalise(raw):
    """`strata stats --json` -> {"layers": {digest: bytes_fetched}, "total": N,
    "p50_ms","p90_ms","p99_ms", "index_source": {digest: src}}.

    Documented shape (fs/store.h fs_store_stats_json): per layer digest bytes
    fetched, spans fetched/total, fraction, cache hits/misses; totals; fetch
    latency p50/p90/p99 in ms; errors; index source per layer. The exact key
    names are matched loosely so that this survives small renames."""
    j = json.loads(raw)
    out = {"layers": {}, "index_source": {}, "total": None}
    layers = j.get("layers") if isinstance(j, dict) else None
    items = []
    if isinstance(layers, dict):
        items = [dict(v, digest=k) if isinstance(v, dict) else {"digest": k, "bytes_fetched": v}
                 for k, v in layers.items()]
    elif isinstance(layers, list):
        items = [x for x in layers if isinstance(x, dict)]
    for it in items:
        d = it.get("digest") or it.get("layer") or "?"
        b = _find(it, ["bytes_fetched", "fetched_bytes", "bytes", "fetched"])
        out["layers"][d] = b
        src = it.get("index_source") or it.get("index")
        if isinstance(src, str):
            out["index_source"][d] = src
        out.setdefault("layer_detail", {})[d] = {k: it[k] for k in (
            "spans_fetched", "spans_total", "fetches", "cache_hits", "cache_misses",
            "blob_size", "tar_size", "errors") if k in it}
    tot = j.get("total") or j.get("totals") if isinstance(j, dict) else None
    t = _find(tot, ["bytes_fetched", "fetched_bytes", "bytes"]) if tot is not None else None
    if t is None and isinstance(j, dict):
        t = _find({k: v for k, v in j.items() if k != "layers"}, ["bytes_fetched", "total_bytes_fetched", "fetched_bytes"])
    if t is None and out["layers"]:
        vals = [v for v in out["layers"].values() if v is not None]
        t = sum(vals) if vals else None
    out["total"] = t
    if isinstance(tot, dict):
        for k in ("registry_bytes_in", "requests", "index_build_bytes", "fetches", "errors", "timeouts"):
            if _num(tot.get(k)) is not None:
                out[k] = tot[k]
    lat = j.get("latency_ms") or j.get("latency") or j.get("fetch_latency_ms") or j
    for p in ("p50", "p90", "p99"):
        out[p + "_ms"] = _find(lat, [p, p + "_ms"])
    return out


def cmd_hyperfine_med(args):
    for a in args:
        with open(a) as fh:
            j = json.load(fh)
        for r in j["results"]:
            print("%.6f" % r["median"])


def fmt_val(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return "%.3f s" % v if v < 100 else "%.0f s" % v
    if unit == "MB/s":
        return "%.0f MB/s" % v
    if unit == "MiB":
        return "%.1f MiB" % v
    return "%s %s" % (v, unit)


def cmd_table(args):
    rows = []
    with open(args[0]) as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
    rows.sort(key=lambda r: r.get("n", 99))
    hdr = ["#", "benchmark", "stratafs", "baseline", "ratio", "target", "result"]
    body = []
    for r in rows:
        ratio = r.get("ratio")
        body.append([
            str(r.get("n", "")),
            r["name"],
            fmt_val(r.get("value"), r.get("unit", "")),
            ("%s: %s" % (r.get("baseline_name", ""), fmt_val(r.get("baseline"), r.get("unit", ""))))
            if r.get("baseline") is not None else r.get("baseline_name", "-"),
            "-" if ratio is None else ("%.2fx" % ratio if ratio < 1000 else "%.0fx" % ratio),
            r.get("target", "-"),
            r.get("result", "-"),
        ])
    w = [max(len(hdr[i]), *(len(b[i]) for b in body)) if body else len(hdr[i]) for i in range(len(hdr))]
    line = "  ".join(h.ljust(w[i]) for i, h in enumerate(hdr))
    print(line)
    print("-" * len(line))
    for b in body:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(b)))
    notes = [r for r in rows if r.get("note")]
    if notes:
        print()
        for r in notes:
            print("  [%s] %s: %s" % (r.get("n", ""), r["name"], r["note"]))


def cmd_record(args):
    """record FILE key=value ...: append one result row (numbers parsed)."""
    row = {}
    for a in args[1:]:
        k, _, v = a.partition("=")
        if v == "":
            continue
        try:
            row[k] = int(v) if re.fullmatch(r"-?\d+", v) else float(v) if re.fullmatch(r"-?[\d.]+(e-?\d+)?", v) else v
        except ValueError:
            row[k] = v
    with open(args[0], "a") as fh:
        fh.write(json.dumps(row) + "\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    c, a = sys.argv[1], sys.argv[2:]
    if c == "gen-tree":
        gen_tree(a[0], a[1], a[a.index("--mode") + 1])
    elif c == "ttfb":
        sys.exit(cmd_ttfb(a))
    elif c == "reglog":
        cmd_reglog(a)
    elif c == "stats-json":
        with open(a[0]) as fh:
            print(json.dumps(stats_normalise(fh.read())))
    elif c == "hyperfine-med":
        cmd_hyperfine_med(a)
    elif c == "record":
        cmd_record(a)
    elif c == "table":
        cmd_table(a)
    else:
        sys.exit("bench.py: unknown subcommand " + c)


if __name__ == "__main__":
    main()
