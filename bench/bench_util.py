#!/usr/bin/env python3
"""Helpers for scripts/bench.sh (Python standard library only).

Subcommands:
  port                         print a free TCP port on 127.0.0.1 (bind to port 0)
  unknown-token SAMPLE         print a well-formed token that is not SAMPLE's (checks that this
                               script's checksum algorithm reproduces SAMPLE's first)
  record ...                   parse one wrk --latency output (+ status mix from an access log
                               byte range) and append it as one JSON line to the results file
  record-raw --out F JSON      append a JSON object as one line
  upload --url U --file F      POST a file, report when the last byte was handed to the kernel and
                               when the response arrived (splits streaming from analysis time)
  rss PID                      print VmRSS and VmHWM of PID in KiB as JSON
  report ...                   aggregate results (medians), print the table, update the doc
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import secrets
import socket
import statistics
import sys
import time
import urllib.parse
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(n, width):
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = ALPHABET[r] + out
    return out.rjust(width, "0")


def token_checksum(first47):
    return base62(zlib.crc32(first47.encode()) & 0xFFFFFFFF, 6)


def cmd_port(_):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_unknown_token(a):
    sample = a.sample.strip()
    if len(sample) != 53 or not sample.startswith("sbx_") or token_checksum(sample[:47]) != sample[47:]:
        sys.exit("unknown-token: the sample token does not match the documented format")
    body = base62(int.from_bytes(secrets.token_bytes(32), "big"), 43)
    tok = "sbx_" + body
    print(tok + token_checksum(tok))


# ---- wrk output -----------------------------------------------------------------------------

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError("bad latency: " + text)
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(text):
    out = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        raise ValueError("no Requests/sec in wrk output:\n" + text)
    out["rps"] = float(m.group(1))
    dist = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", text, re.M))
    out["p50_ms"] = to_ms(dist["50"]) if "50" in dist else None
    out["p99_ms"] = to_ms(dist["99"]) if "99" in dist else None
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", text)
    out["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return out


def status_mix(path, start, end):
    """Counts HTTP statuses in lines [start, end) bytes of an access log whose lines end with
    '<status> <time>' (Sandgate's log and the nginx log_format bench.sh writes)."""
    mix = {}
    if not path or not os.path.exists(path):
        return mix
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(max(0, end - start))
    for line in data.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        st = parts[-2].decode(errors="replace")
        if st.isdigit() and len(st) == 3:
            mix[st] = mix.get(st, 0) + 1
    return mix


def cmd_record(a):
    with open(a.wrk) as f:
        rec = parse_wrk(f.read())
    rec.update(scenario=a.scenario, side=a.side, round=a.round)
    if a.log:
        rec["status"] = status_mix(a.log, a.log_from, a.log_to)
    with open(a.out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    mix = ", ".join(f"{k}: {v}" for k, v in sorted(rec.get("status", {}).items()))
    print(f"  {a.scenario:<8} {a.side:<9} round {a.round}: {rec['rps']:>10.0f} req/s  "
          f"p50 {fmt_ms(rec['p50_ms'])}  p99 {fmt_ms(rec['p99_ms'])}  [{mix}]", flush=True)


def cmd_record_engine(a):
    """One round of the engine alone (a Google Benchmark JSON file): the most-threads AnalyzeFile."""
    with open(a.json) as f:
        doc = json.load(f)
    best = None
    for b in doc.get("benchmarks", []):
        if b.get("error_occurred") or b.get("aggregate_name"):
            continue
        if best is None or b.get("threads", 1) > best.get("threads", 1):
            best = b
    if best is None:
        sys.exit("record-engine: no AnalyzeFile result in " + a.json)
    rec = {"scenario": a.scenario, "side": "engine", "round": a.round,
           "rps": best["items_per_second"], "threads": best.get("threads", 1),
           "p50_ms": to_ns(best, "real_time") / 1e6 * best.get("threads", 1)}
    with open(a.out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(f"  {a.scenario:<8} {'engine':<9} round {a.round}: {rec['rps']:>10.0f} files/s "
          f"(in-process, {rec['threads']} thread(s))", flush=True)


def cmd_record_raw(a):
    obj = json.loads(a.json)
    with open(a.out, "a") as f:
        f.write(json.dumps(obj) + "\n")


def cmd_upload(a):
    u = urllib.parse.urlsplit(a.url)
    size = os.path.getsize(a.file)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    t0 = time.monotonic()
    conn.putrequest("POST", u.path + ("?" + u.query if u.query else ""))
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    with open(a.file, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            conn.send(chunk)
    t_sent = time.monotonic() - t0
    resp = conn.getresponse()
    body = resp.read()
    t_total = time.monotonic() - t0
    print(json.dumps({"status": resp.status, "sent_s": t_sent, "total_s": t_total,
                      "bytes": size, "body": body.decode(errors="replace")[:300]}))


def cmd_digest3(a):
    """The hashing limit (issue 19): MD5, SHA-1 and SHA-256 over one file in one process, through
    OpenSSL's EVP (hashlib's md5/sha1/sha256 are OpenSSL's), 1 MiB reads."""
    hs = [hashlib.new(n) for n in ("md5", "sha1", "sha256")]
    size = 0
    t0 = time.monotonic()
    with open(a.file, "rb", buffering=0) as f:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            size += n
            for h in hs:
                h.update(view[:n])
    secs = time.monotonic() - t0
    print(json.dumps({"seconds": round(secs, 3), "bytes": size,
                      "digests": [h.hexdigest() for h in hs]}))


STAGE_RE = re.compile(
    r'^sandgate_analysis_stage_duration_seconds_sum\{[^}]*stage="([a-z_]+)"[^}]*\}\s+(\S+)', re.M)


def stage_sums(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}
    return {m.group(1): float(m.group(2)) for m in STAGE_RE.finditer(text)}


def cmd_stage_times(a):
    """Seconds per engine stage between two /metrics scrapes (one discan between them)."""
    before, after = stage_sums(a.before), stage_sums(a.after)
    print(json.dumps({k: round(v - before.get(k, 0.0), 3) for k, v in sorted(after.items())}))


def cmd_rss(a):
    out = {}
    with open(f"/proc/{a.pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    print(json.dumps(out))


# ---- report ---------------------------------------------------------------------------------

def fmt_ms(v):
    if v is None:
        return "—"
    if v < 1:
        return f"{v * 1000:.0f} µs"
    if v < 100:
        return f"{v:.2f} ms"
    return f"{v:.0f} ms"


def fmt_ns(ns):
    if ns < 1e4:
        return f"{ns:,.0f} ns"
    if ns < 1e7:
        return f"{ns / 1e3:,.1f} µs"
    return f"{ns / 1e6:,.1f} ms"


def fmt_rate(v):
    return "—" if v is None else f"{v:,.0f}"


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return None if a is None or not b else a / b


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


REC_FIELD = {"rps": "rps", "p50": "p50_ms", "p99": "p99_ms"}


def paired(a, b, field="rps"):
    """a's figure against b's when their rounds alternate: the median of the per-round ratios
    (round k of a against round k of b, run next to each other), so that a machine that speeds up
    or slows down during the run moves both sides of each ratio. The medians' ratio when the
    rounds cannot be paired (a side without per-round records)."""
    if not a or not b:
        return None
    key = REC_FIELD[field]
    by_round = {r.get("round"): r.get(key) for r in b.get("recs") or []}
    rs = [r.get(key) / by_round[r.get("round")] for r in a.get("recs") or []
          if r.get(key) is not None and by_round.get(r.get("round"))]
    return med(rs) if rs else ratio(a.get(field), b.get(field))


def fmt_both(r_paired, a, b, field="rps"):
    """paired(a, b, field), already computed, with the medians' ratio beside it."""
    return f"{fmt_ratio(r_paired)} (medians' ratio {fmt_ratio(ratio(a[field], b[field]))})"


def load_micro(path):
    """name -> the median aggregate (or the single run) of each benchmark."""
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        doc = json.load(f)
    runs = {}
    for b in doc.get("benchmarks", []):
        if b.get("error_occurred"):
            continue
        name = b.get("run_name") or b["name"]
        agg = b.get("aggregate_name")
        if agg and agg != "median":
            continue
        if agg == "median" or name not in runs:
            runs[name] = b
    return runs


def to_ns(b, field):
    unit = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return b[field] * unit


def mix_text(mix):
    total = sum(mix.values())
    if not total:
        return "—"
    parts = sorted(mix.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {100.0 * v / total:.1f}%" for k, v in parts[:3])


def merge_mix(recs):
    mix = {}
    for r in recs:
        for k, v in r.get("status", {}).items():
            mix[k] = mix.get(k, 0) + v
    return mix


def cmd_report(a):
    recs = []
    if os.path.exists(a.results):
        with open(a.results) as f:
            recs = [json.loads(line) for line in f if line.strip()]
    micro = load_micro(a.micro)
    with open(a.machine) as f:
        machine = json.load(f)
    with open(a.commands) as f:
        commands = f.read().rstrip("\n")

    def agg(scenario, side):
        rs = [r for r in recs if r.get("scenario") == scenario and r.get("side") == side]
        if not rs:
            return None
        return {"rps": med([r.get("rps") for r in rs]), "p50": med([r.get("p50_ms") for r in rs]),
                "p99": med([r.get("p99_ms") for r in rs]), "mix": merge_mix(rs), "n": len(rs),
                "recs": rs}

    peer_names = {"nginx": "nginx (worker_processes auto)", "nginx-1": "nginx (worker_processes 1)",
                  "haproxy": "HAProxy"}

    def best_of(scenario, sides):
        """The side of `sides` with the most req/s (medians) in `scenario`, and its name."""
        best, best_side = None, None
        for side in sides:
            b = agg(scenario, side)
            if b and (best is None or (b["rps"] or 0) > (best["rps"] or 0)):
                best, best_side = b, side
        return best, best_side

    def best_peer(scenario):
        """Issue 19: the baseline of scenarios 1 and 2 is the best of the peers (req/s medians)."""
        return best_of(scenario, peer_names)

    sg_names = {"sandgate": "Sandgate (one I/O thread per core, the default)",
                "sandgate-1": "Sandgate (--threads 1)"}

    def best_sandgate(scenario):
        """Scenarios 1 and 2: Sandgate at its best, like the peers: the better (req/s medians) of
        the default server and the one started with --threads 1, when both were measured."""
        return best_of(scenario, sg_names)

    def engine_for(scenario):
        """Scenario 3's baseline: the engine rounds run between this scenario's Sandgate rounds."""
        e = agg(scenario, "engine")
        if not e:
            return {"label": "analysis engine (not measured)", "rps": None, "p50": None}
        threads = e["recs"][0].get("threads", 1)
        return {"label": f"AnalyzeFile in-process, {threads} thread(s), rounds alternating",
                "rps": e["rps"], "p50": e["p50"], "recs": e["recs"]}

    rows, checks = [], []
    titles = {
        "invalid": "1. Invalid-token rejection — POST /zscsb/submit, unknown well-formed token",
        "page": "2. Token page read — GET /api/v1/sandbox/token with a session",
        "submit": "3. Valid submission, 1 KiB clean file, force=1",
        "invalid@scale": "5. Invalid-token rejection, {orgs} organizations",
        "submit@scale": "5. Valid submission, {orgs} organizations",
    }
    scale = next((r for r in recs if r.get("scenario") == "scale-start"), None)
    scale_orgs = f"{scale['orgs']:,}" if scale else "?"
    if scale and scale["orgs"] < 1_000_000:
        scale_orgs += " (target: 1,000,000)"
    base_orgs = next((r.get("orgs") for r in recs if r.get("scenario") == "setup"), None)

    scale_rows = []
    for scenario, baseline in (("invalid", "nginx"), ("page", "nginx"), ("submit", "engine"),
                               ("invalid@scale", "nginx"), ("submit@scale", "engine")):
        s, s_side = agg(scenario, "sandgate"), "sandgate"
        if scenario in ("invalid", "page"):
            s, s_side = best_sandgate(scenario)
        if not s:
            continue
        title = titles[scenario].format(orgs=scale_orgs)
        if scenario in ("invalid", "page") and agg(scenario, "sandgate-1"):
            title += " — " + sg_names[s_side] + ", the better of two"
        if baseline == "nginx" and "@" in scenario and agg(scenario, "nginx-1"):
            # The scale run's own peer rounds (alternating with its Sandgate rounds).
            b = agg(scenario, "nginx-1")
            bname = peer_names["nginx-1"] + " map → 401, rounds alternating"
            brps, bp50, bp99 = b["rps"], b["p50"], b["p99"]
            bmix = mix_text(b["mix"])
            bagg = b
        elif baseline == "nginx":
            b, side = best_peer(scenario.split("@")[0])
            bname = ("best peer: " + peer_names.get(side, "none") + " " +
                     ("map → 401" if scenario.startswith("invalid") else "static 200"))
            brps, bp50, bp99 = (b["rps"], b["p50"], b["p99"]) if b else (None, None, None)
            bmix = mix_text(b["mix"]) if b else "—"
            bagg = b
        else:
            eng = engine_for(scenario)
            bname = eng["label"]
            brps, bp50, bp99, bmix = eng["rps"], eng["p50"], None, "in-process"
            bagg = eng
        (scale_rows if "@" in scenario else rows).append([
                     title, fmt_rate(s["rps"]), fmt_ms(s["p50"]), fmt_ms(s["p99"]), bname,
                     fmt_rate(brps), fmt_ms(bp50), fmt_ms(bp99), fmt_ratio(paired(s, bagg)),
                     fmt_ratio(paired(s, bagg, "p99")), mix_text(s["mix"]), bmix])

    # Issue 19: every peer's figures, the best of which is the baseline above.
    peer_rows = []
    for scenario in ("invalid", "page"):
        _, best_side = best_peer(scenario)
        _, best_sg = best_sandgate(scenario)
        # Sandgate's two configurations (when both ran), then the peers.
        listed = [(side, name, " (better)" if side == best_sg else "")
                  for side, name in sg_names.items()] if agg(scenario, "sandgate-1") else []
        listed += [(side, name, " (best)" if side == best_side else "")
                   for side, name in peer_names.items()]
        for side, name, mark in listed:
            b = agg(scenario, side)
            if b:
                peer_rows.append([titles[scenario], name + mark, fmt_rate(b["rps"]),
                                  fmt_ms(b["p50"]), fmt_ms(b["p99"]), mix_text(b["mix"])])

    # Issue 16: the cost of the metrics, from the alternating --metrics off rounds.
    metrics_rows = []
    for scenario in ("invalid", "page"):
        on, off = agg(scenario, "sandgate"), agg(scenario, "nometrics")
        if on and off:
            r = paired(on, off)
            metrics_rows.append([titles[scenario], fmt_rate(on["rps"]), fmt_rate(off["rps"]),
                                 fmt_ratio(r), fmt_ms(on["p99"]), fmt_ms(off["p99"]),
                                 "within 5%" if r is not None and r >= 0.95 else "**over 5%**"])

    stream = [r for r in recs if r.get("scenario") == "stream"]
    if stream:
        mib = stream[0]["bytes"] / 2**20
        curl_s = med([r.get("curl_s") for r in stream])
        sent_s = med([r.get("sent_s") for r in stream])
        sha_s = med([r.get("sha256sum_s") for r in stream])
        av_s = med([r.get("av_scan_s") for r in stream])
        rows.append([f"4. Streaming — {mib:.0f} MiB POST /zscsb/discan (end to end, curl)",
                     f"{mib / curl_s:,.0f} MiB/s" if curl_s else "—", fmt_ms(curl_s * 1000),
                     "—", "sha256sum", f"{mib / sha_s:,.0f} MiB/s" if sha_s else "—",
                     fmt_ms(sha_s * 1000), "—", fmt_ratio(ratio(sha_s, curl_s)), "—",
                     mix_text(merge_mix(stream)), "—"])
        if sent_s:
            rows.append([f"4. Streaming — {mib:.0f} MiB received, hashed and spooled "
                         "(last byte accepted)", f"{mib / sent_s:,.0f} MiB/s",
                         fmt_ms(sent_s * 1000), "—", "sha256sum",
                         f"{mib / sha_s:,.0f} MiB/s" if sha_s else "—", fmt_ms(sha_s * 1000),
                         "—", fmt_ratio(ratio(sha_s, sent_s)), "—", "—", "—"])
        dg_s = med([r.get("digest3_s") for r in stream])
        if sent_s and dg_s:
            rows.append([f"4. Streaming — {mib:.0f} MiB received, hashed and spooled vs the "
                         "hashing limit", f"{mib / sent_s:,.0f} MiB/s", fmt_ms(sent_s * 1000), "—",
                         "OpenSSL EVP MD5+SHA-1+SHA-256, one process",
                         f"{mib / dg_s:,.0f} MiB/s", fmt_ms(dg_s * 1000), "—",
                         fmt_ratio(ratio(dg_s, sent_s)), "—", "—", "—"])
        if av_s:
            clam = med([r.get("clamscan_s") for r in stream])
            rows.append([f"4. AV scan alone — `sandgate av-scan`, {mib:.0f} MiB",
                         f"{mib / av_s:,.0f} MiB/s", fmt_ms(av_s * 1000), "—",
                         "clamscan (same signatures)" if clam else "clamscan: not installed",
                         f"{mib / clam:,.0f} MiB/s" if clam else "—",
                         fmt_ms(clam * 1000) if clam else "—", "—",
                         fmt_ratio(ratio(clam, av_s)) if clam else "—", "—", "—", "—"])

    # Issue 19, target 5: where the time of one discan goes (medians of the rounds; the engine's
    # stages from sandgate_analysis_stage_duration_seconds). "rest" is taken per round, then its
    # median: answer − receive − the longer of (file type + AV scan) and YARA, which run beside
    # each other; medians of separate columns, or YARA counted after the scan, could make it
    # negative.
    stage_rows = []
    if stream:
        names = sorted({k for r in stream for k in (r.get("stages") or {})})
        st = {k: med([(r.get("stages") or {}).get(k) for r in stream]) for k in names}
        cells = [fmt_ms(curl_s * 1000), fmt_ms(sent_s * 1000) if sent_s else "—"]
        cells += [fmt_ms(st[k] * 1000) if st[k] is not None else "—" for k in names]
        def round_rest(r):
            g = r.get("stages") or {}
            if r.get("curl_s") is None:
                return None
            serial = max((g.get("clamav") or 0) + (g.get("file_type") or 0), g.get("yara") or 0)
            other = sum(v or 0 for k, v in g.items()
                        if k not in ("clamav", "file_type", "yara", "hashing"))
            return r["curl_s"] - (r.get("sent_s") or 0) - serial - other

        rest = med([round_rest(r) for r in stream]) if curl_s else None
        cells += [fmt_ms(rest * 1000) if rest is not None else "—",
                  fmt_ms(av_s * 1000) if av_s else "—"]
        stage_rows = [[f"{mib:.0f} MiB discan"] + cells]
        stage_header = (["Upload", "answer (curl)", "received + hashed"] +
                        [f"stage {k}" for k in names] + ["rest (after the stages)",
                                                         "AV scan alone (av-scan)"])

    # Issue 19, target 6: one node on PostgreSQL (same machine) against the SQLite node.
    pg_rows = []
    for scenario, label in (("pg-page", "6. Token page read, one node on PostgreSQL vs SQLite"),
                            ("pg-submit", "6. Valid 1 KiB submission, one node on PostgreSQL vs "
                                          "SQLite")):
        a_, b_ = agg(scenario, "postgres"), agg(scenario, "sqlite")
        if a_ and b_:
            pg_rows.append([label + " (PostgreSQL on the same cores)", fmt_rate(a_["rps"]),
                            fmt_ms(a_["p50"]), fmt_ms(a_["p99"]), "the same node on SQLite",
                            fmt_rate(b_["rps"]), fmt_ms(b_["p50"]), fmt_ms(b_["p99"]),
                            fmt_ratio(paired(a_, b_)),
                            fmt_ratio(paired(a_, b_, "p99")), mix_text(a_["mix"]),
                            mix_text(b_["mix"])])
    rows += pg_rows
    rows += scale_rows
    header = ["Scenario", "Sandgate req/s", "p50", "p99", "Baseline", "Baseline req/s", "p50",
              "p99", "req/s ratio", "p99 ratio", "Sandgate statuses", "Baseline statuses"]
    table = md_table(header, rows)

    # ---- target checks
    def verdict(ok):
        return "—" if ok is None else ("**met**" if ok else "**not met**")

    inv, inv_sg = best_sandgate("invalid")
    inv_n, inv_side = best_peer("invalid")
    if inv and inv_n:
        r, p = paired(inv, inv_n), paired(inv, inv_n, "p99")
        ok401 = inv["mix"].get("401", 0) >= 0.99 * max(1, sum(inv["mix"].values()))
        note = "" if ok401 else (" — but Sandgate answered " + mix_text(inv["mix"]) +
                                 ": the figure is not the 401 path the target describes")
        checks.append(["1. invalid-token rejection ≥ 85% of the best peer's req/s "
                       f"({sg_names[inv_sg]} vs {peer_names[inv_side]}), p99 ≤ 1.5×",
                       f"{fmt_both(r, inv, inv_n)} req/s, {fmt_both(p, inv, inv_n, 'p99')} p99"
                       + note,
                       verdict(None if r is None or p is None else (r >= 0.85 and p <= 1.5
                                                                    and ok401))])
    pg, pg_sg = best_sandgate("page")
    pg_n, pg_side = best_peer("page")
    if pg and pg_n:
        r = paired(pg, pg_n)
        checks.append([f"2. token page read ≥ 65% of the best peer's static 200 "
                       f"({sg_names[pg_sg]} vs {peer_names[pg_side]})",
                       f"{fmt_both(r, pg, pg_n)} req/s",
                       verdict(None if r is None else r >= 0.65)])
    sb = agg("submit", "sandgate")
    eng = engine_for("submit")
    if sb:
        r = paired(sb, eng)
        ok200 = sb["mix"].get("200", 0) >= 0.99 * max(1, sum(sb["mix"].values()))
        note = "" if ok200 else " — statuses " + mix_text(sb["mix"])
        checks.append(["3. valid submission ≥ 85% of the engine alone (" + eng["label"] + ")",
                       fmt_both(r, sb, eng) + note,
                       verdict(None if r is None else r >= 0.85 and ok200)])
    if stream:
        r = ratio(sha_s, sent_s) if sent_s else None
        idle = med([r_.get("rss_idle_kib") for r_ in stream])
        peak = med([r_.get("rss_peak_kib") for r_ in stream])
        mem_ok = None if idle is None or peak is None else peak - idle <= 64 * 1024
        r = ratio(dg_s, sent_s) if sent_s and dg_s else None
        checks.append(["4. streaming ≥ 80% of the OpenSSL MD5+SHA-1+SHA-256 rate (received, "
                       "hashed, spooled)",
                       f"{fmt_ratio(r)} (sha256sum alone: {fmt_ratio(ratio(sha_s, sent_s))})",
                       verdict(None if r is None else r >= 0.8)])
        r5 = ratio(curl_s, (sent_s or 0) + (av_s or 0)) if sent_s and av_s else None
        checks.append(["issue 19 target 5: the whole discan answered within 1.15× of (receive + AV scan alone)",
                       f"{fmt_ratio(r5)} ({curl_s:.1f} s vs {sent_s or 0:.1f} + {av_s or 0:.1f} s)"
                       if r5 else "—", verdict(None if r5 is None else r5 <= 1.15)])
        checks.append(["4. peak memory during the upload ≤ idle + 64 MiB",
                       "—" if mem_ok is None else
                       f"idle {idle / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB "
                       f"(+{(peak - idle) / 1024:.0f} MiB)", verdict(mem_ok)])
    if scale:
        if scale.get("start_s") is None:
            checks.append([f"5. start with {scale_orgs} organizations < 10 s",
                           f"not ready after {scale.get('timeout_s')} s (RSS then "
                           f"{scale['rss_kib'] / 1024:.0f} MiB); seeding took "
                           f"{scale.get('seed_s', 0):.0f} s", verdict(False)])
        else:
            checks.append([f"5. start with {scale_orgs} organizations < 10 s",
                           f"{scale['start_s']:.1f} s (launch to first 200 on /readyz; seeding "
                           f"took {scale.get('seed_s', 0):.0f} s)",
                           verdict(scale["start_s"] < 10)])
            peak = scale.get("rss_peak_kib") or scale["rss_kib"]
            checks.append([f"5. resident memory with {scale_orgs} organizations < 1 GiB",
                           f"{scale['rss_kib'] / 1024:.0f} MiB after start, "
                           f"{peak / 1024:.0f} MiB peak", verdict(peak < 1024 * 1024)])
        for sc, label, peer in (("invalid", "1", "nginx-1"), ("submit", "3", "engine")):
            small, big = agg(sc, "sandgate"), agg(sc + "@scale", "sandgate")
            if small and big:
                d = raw = ratio(big["rps"], small["rps"])
                # Each run against the peer rounds that alternated with it (nginx with one worker,
                # the engine alone), so that a machine that slows between the two runs does not
                # pass for a cost of scale; the raw ratio is shown beside it.
                ps, pb = agg(sc, peer), agg(sc + "@scale", peer)
                how = ""
                if ps and pb:
                    d = ratio(paired(big, pb), paired(small, ps))
                    d_medians = ratio(ratio(big["rps"], pb["rps"]), ratio(small["rps"], ps["rps"]))
                    how = (f", each run against its alternating {peer} rounds (medians' ratio "
                           f"{fmt_ratio(d_medians)}; raw "
                           f"{fmt_ratio(raw)}; {peer} {fmt_rate(pb['rps'])} vs "
                           f"{fmt_rate(ps['rps'])})")
                expect = "401" if sc == "invalid" else "200"
                note = "" if small["mix"].get(expect, 0) >= 0.99 * max(1, sum(small["mix"].values())) \
                    else f" (both runs mostly {mix_text(small['mix'])})"
                checks.append([f"5. target {label} with {scale_orgs} vs {base_orgs or '?'} "
                               "organizations within 10%",
                               f"{fmt_ratio(d)} of the smaller run's req/s" + how + note,
                               verdict(None if d is None else d >= 0.9)])
    for scenario, label, bound, want in (
            ("pg-page", "6 (issue 19). PostgreSQL node's token page ≥ 50% of the SQLite node's",
             0.5, "200"),
            ("pg-submit", "6 (issue 19). PostgreSQL node's valid submissions ≥ 80% of the SQLite "
             "node's", 0.8, "200")):
        a_, b_ = agg(scenario, "postgres"), agg(scenario, "sqlite")
        if a_ and b_:
            r = paired(a_, b_)
            ok = a_["mix"].get(want, 0) >= 0.99 * max(1, sum(a_["mix"].values()))
            note = "" if ok else " — statuses " + mix_text(a_["mix"])
            checks.append([label + " (PostgreSQL on the same machine)",
                           f"{fmt_both(r, a_, b_)} req/s" + note,
                           verdict(None if r is None else r >= bound and ok)])
    v = micro.get("Verify/1000000/hit")
    if v:
        ns = to_ns(v, "cpu_time")
        checks.append(["6. verify() < 1 µs with 1,000,000 tokens (Verify/1000000/hit, CPU time)",
                       f"{ns:.0f} ns", verdict(ns < 1000)])
    checks_table = md_table(["Target", "Measured", "Verdict"], checks)

    micro_rows = []
    for name, b in micro.items():
        ips = b.get("items_per_second")
        bps = b.get("bytes_per_second")
        extra = []
        if bps and bps > 50 * 2**20:
            extra.append(f"{bps / 2**20:,.0f} MiB/s")
        elif ips:
            extra.append(f"{ips:,.0f} /s")
        micro_rows.append([name, fmt_ns(to_ns(b, "real_time")), fmt_ns(to_ns(b, "cpu_time")),
                           ", ".join(extra) or ""])
    micro_table = md_table(["Benchmark", "Wall time", "CPU time", "Rate"], micro_rows)

    m = machine
    load_note = f"load average at start {m.get('loadavg', '?')}"
    text = "\n".join([
        f"_Generated by `make bench` (scripts/bench.sh) on {m.get('date', '?')}._",
        "",
        f"**Machine:** {m.get('nproc', '?')} CPUs ({m.get('cpu', '?')}), "
        f"{m.get('mem', '?')} memory, Linux {m.get('kernel', '?')}; {load_note}. "
        f"{m.get('nginx', '')}, {m.get('haproxy', '')}, {m.get('openssl', '')}, {m.get('wrk', '')}.",
        "",
        f"**Run:** wrk 1 thread, {m.get('connections', '?')} connections, "
        f"{m.get('seconds', '?')} s per round after a {m.get('warmup', '?')} s warm-up, "
        f"median of {m.get('rounds', '?')} rounds (p50/p99: medians of the per-round "
        f"percentiles); every ratio between two sides whose rounds alternate is the median of the "
        f"per-round ratios (the medians' ratio is shown beside each target); "
        f"{base_orgs or '?'} organizations with tokens; nginx "
        f"worker_processes {m.get('nginx_workers', '?')} and HAProxy, the best peer per "
        "scenario as the baseline; Sandgate with its default threads. "
        "Baseline of scenario 3: the analysis engine in-process "
        "(Google Benchmark `Engine/AnalyzeFile/clean_1KiB` with one thread per core, same file, "
        "same cores; p50 there is the mean time per call), its rounds alternating with Sandgate's "
        "like nginx's, each after the server went idle.",
        "",
        table,
        "",
    ] + ([
        "**Peers (issue 19):** every peer doing the same HTTP work; the best one per scenario is "
        "the baseline above. nginx's access log is buffered like Sandgate's (`buffer=64k "
        "flush=1s`, same fields); HAProxy logs the same fields, one line per request to a file. "
        "Sandgate is measured the same way, in two configurations (one I/O thread per core, its "
        "default, and `--threads 1`, rounds alternating), and the better one is compared above.",
        "",
        md_table(["Scenario", "Peer", "req/s", "p50", "p99", "statuses"], peer_rows),
        "",
    ] if peer_rows else []) + ([
        "**Where a discan's time goes (issue 19, target 5):** medians; stages from "
        "`sandgate_analysis_stage_duration_seconds` around the curl upload; hashing overlaps "
        "the receive.",
        "",
        md_table(stage_header, stage_rows),
        "",
    ] if stage_rows else []) + ([
        "**The cost of the metrics (issue 16):** the same scenarios against a second server "
        "started with `--metrics off`, rounds alternating with the metrics-on rounds above.",
        "",
        md_table(["Scenario", "metrics on req/s", "metrics off req/s", "on/off", "p99 on",
                  "p99 off", "Target: within 5%"], metrics_rows),
        "",
    ] if metrics_rows else []) + [
        "**Targets (issues 7 and 19), evaluated from this run:**",
        "",
        checks_table,
        "",
        "<details><summary>Microbenchmarks (medians)</summary>",
        "",
        micro_table,
        "",
        "</details>",
        "",
        "**Commands of this run:**",
        "",
        "```sh",
        commands,
        "```",
    ])
    print()
    print(table)
    if peer_rows:
        print()
        print(md_table(["Scenario", "Peer", "req/s", "p50", "p99", "statuses"], peer_rows))
    if stage_rows:
        print()
        print(md_table(stage_header, stage_rows))
    print()
    print(checks_table)
    if metrics_rows:
        print()
        print(md_table(["Scenario", "metrics on req/s", "metrics off req/s", "on/off", "p99 on",
                        "p99 off", "Target: within 5%"], metrics_rows))
    if a.doc:
        update_doc(a.doc, text)
        print(f"\nwrote the results to {a.doc}")


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |")
    return "\n".join(out)


BEGIN = "<!-- BEGIN bench results (written by scripts/bench.sh) -->"
END = "<!-- END bench results -->"


def update_doc(path, text):
    doc = open(path).read() if os.path.exists(path) else "# Performance\n"
    block = BEGIN + "\n" + text + "\n" + END
    if BEGIN in doc and END in doc:
        pre = doc[:doc.index(BEGIN)]
        post = doc[doc.index(END) + len(END):]
        doc = pre + block + post
    else:
        doc = doc.rstrip("\n") + "\n\n## Latest results\n\n" + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(doc)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("port").set_defaults(fn=cmd_port)
    s = sub.add_parser("unknown-token")
    s.add_argument("sample")
    s.set_defaults(fn=cmd_unknown_token)
    s = sub.add_parser("record")
    s.add_argument("--out", required=True)
    s.add_argument("--scenario", required=True)
    s.add_argument("--side", required=True)
    s.add_argument("--round", type=int, required=True)
    s.add_argument("--wrk", required=True)
    s.add_argument("--log")
    s.add_argument("--log-from", type=int, default=0)
    s.add_argument("--log-to", type=int, default=0)
    s.set_defaults(fn=cmd_record)
    s = sub.add_parser("record-engine")
    s.add_argument("--out", required=True)
    s.add_argument("--scenario", required=True)
    s.add_argument("--round", type=int, required=True)
    s.add_argument("--json", required=True)
    s.set_defaults(fn=cmd_record_engine)
    s = sub.add_parser("record-raw")
    s.add_argument("--out", required=True)
    s.add_argument("json")
    s.set_defaults(fn=cmd_record_raw)
    s = sub.add_parser("upload")
    s.add_argument("--url", required=True)
    s.add_argument("--file", required=True)
    s.set_defaults(fn=cmd_upload)
    s = sub.add_parser("digest3")
    s.add_argument("--file", required=True)
    s.set_defaults(fn=cmd_digest3)
    s = sub.add_parser("stage-times")
    s.add_argument("--before", required=True)
    s.add_argument("--after", required=True)
    s.set_defaults(fn=cmd_stage_times)
    s = sub.add_parser("rss")
    s.add_argument("pid")
    s.set_defaults(fn=cmd_rss)
    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--micro")
    s.add_argument("--machine", required=True)
    s.add_argument("--commands", required=True)
    s.add_argument("--doc")
    s.set_defaults(fn=cmd_report)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
