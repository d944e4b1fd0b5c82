#!/usr/bin/env python3
"""Management plane at scale (issue 16): how fast the API answers with N route-based sessions
stored. Run inside a network namespace of its own (scripts/bench-mgmt-scale.sh makes one).

One straitd, one tier-0, one VPN service (disabled, so no VTI or IKE work: this measures the
management plane and the runtime's reaction to changes, not tunnels), one local endpoint and
N sessions to peers in 198.18.0.0/15 (RFC 2544's benchmarking range) with /30 VTI subnets in
169.254.0.0/16. For each N of --sessions, the store is grown to N through hierarchical
`PATCH /infra` requests of --chunk sessions, then measured:

- PATCH of one session's description, 1 client and 8 clients (p50 / p99, requests/s), and
  the CPU time straitd spent per PATCH with 1 client (its runtimes' reactions included:
  steadier from run to run than latency on a shared 2-vCPU machine);
- PUT of one session (its body as GET returned it, with _revision), 1 client;
- GET of a page of 1,000 sessions and the service summary (each timed to its last byte, once
  straitd is idle again); one session's detailed-status;
- straitd's RSS right after, and after 10 s idle.

STRAIT_BENCH_PERF=FILE records a CPU profile of straitd (perf) while one client PATCHes at the
largest N (STRAIT_BENCH_PERF_CALL_GRAPH=dwarf for call stacks from a release build).

Prints a Markdown table. Everything is done over HTTPS keep-alive connections, as a client
library would.
"""

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import base64

PORT = 18447
ADMIN_PASSWORD = "bench-admin-" + secrets.token_hex(8)
SVC = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn"
LE_PATH = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le"
AUTH = "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Client:
    """One keep-alive HTTPS connection to straitd."""

    def __init__(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.conn = http.client.HTTPSConnection("127.0.0.1", PORT, context=ctx, timeout=600)

    def call(self, method, path, body=None, ok=(200,)):
        headers = {"authorization": AUTH}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["content-type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        text = r.read()
        if r.status not in ok:
            raise RuntimeError(f"{method} {path}: {r.status} {text[:500]!r}")
        return json.loads(text) if text.strip() else None

    def timed(self, method, path, body=None):
        t = time.perf_counter()
        out = self.call(method, path, body)
        return time.perf_counter() - t, out

    def timed_read(self, path):
        """Seconds until a GET's whole body has arrived (the client's JSON parsing, ~20 ms
        for a page of 1,000 sessions in CPython, is not the server's time)."""
        t = time.perf_counter()
        self.conn.request("GET", path, headers={"authorization": AUTH})
        r = self.conn.getresponse()
        r.read()
        dt = time.perf_counter() - t
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status}")
        return dt


def session_body(i):
    peer = f"198.{18 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"
    vti = f"169.254.{(i >> 6) & 255}.{((i & 63) << 2) + 1}"
    return {
        "resource_type": "RouteBasedIPSecVpnSession",
        "id": f"s{i}",
        "display_name": f"site {i}",
        "local_endpoint_path": LE_PATH,
        "peer_address": peer,
        "peer_id": peer,
        "psk": "bench-psk-" + str(i),
        "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti], "prefix_length": 30}]}],
    }


def grow(c, have, want, chunk):
    """Store sessions have..want-1 through hierarchical PATCH /infra; returns seconds taken."""
    t0 = time.perf_counter()
    i = have
    while i < want:
        j = min(want, i + chunk)
        children = [{"resource_type": "ChildIPSecVpnSession", "IPSecVpnSession": session_body(k)}
                    for k in range(i, j)]
        body = {"resource_type": "Infra", "children": [{"resource_type": "ChildTier0", "Tier0": {
            "resource_type": "Tier0", "id": "t0", "children": [{
                "resource_type": "ChildIPSecVpnService", "IPSecVpnService": {
                    "resource_type": "IPSecVpnService", "id": "vpn", "children": children}}]}}]}
        c.call("PATCH", "/policy/api/v1/infra", body)
        i = j
    return time.perf_counter() - t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def patch_load(n, clients, per_client):
    """PATCH random sessions' descriptions from `clients` threads; (latencies, requests/s)."""
    lat = []
    lock = threading.Lock()
    errors = []

    def work(seed):
        rnd = random.Random(seed)
        c = Client()
        mine = []
        try:
            for k in range(per_client):
                i = rnd.randrange(n)
                dt, _ = c.timed("PATCH", f"{SVC}/sessions/s{i}", {"description": f"edit {seed}-{k}"})
                mine.append(dt)
        except Exception as e:  # reported below, the measurement is void
            errors.append(e)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return lat, len(lat) / wall


def put_load(c, n, count):
    rnd = random.Random(7)
    lat = []
    for k in range(count):
        i = rnd.randrange(n)
        body = c.call("GET", f"{SVC}/sessions/s{i}")
        body["description"] = f"put {k}"
        dt, _ = c.timed("PUT", f"{SVC}/sessions/s{i}", body)
        lat.append(dt)
    return lat


def cpu_seconds(pid):
    """straitd's user + system CPU time so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid, timeout=60):
    """Wait until straitd has used no more than 20 ms of CPU in half a second: the runtime
    has applied the changes just made, so reads are timed alone."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before <= 0.02:
            return


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def ms(x):
    return f"{x * 1000:.1f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--straitd", required=True)
    ap.add_argument("--sessions", default="0,1000,10000")
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--requests", type=int, default=200, help="PATCHes per measurement, per client")
    args = ap.parse_args()
    counts = [int(x) for x in args.sessions.split(",")]

    d = tempfile.mkdtemp(prefix="bench-mgmt-scale-")
    env = dict(os.environ, STRAIT_ADMIN_PASSWORD=ADMIN_PASSWORD, STRAIT_LOG="warn")
    logf = open(f"{d}/straitd.log", "w")
    proc = subprocess.Popen([args.straitd, "--data-dir", d, "--listen", f"127.0.0.1:{PORT}"],
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=logf,
                            start_new_session=True)
    rows = []
    try:
        deadline = time.time() + 30
        while True:
            try:
                c = Client()
                c.call("GET", "/policy/api/v1/infra/tier-0s")
                break
            except (OSError, RuntimeError, http.client.HTTPException):
                if time.time() > deadline:
                    raise RuntimeError("straitd did not start: " + open(f"{d}/straitd.log").read()[-2000:])
                time.sleep(0.2)
        c.call("PATCH", "/policy/api/v1/infra/tier-0s/t0", {})
        c.call("PATCH", SVC, {"enabled": False})
        c.call("PATCH", f"{SVC}/local-endpoints/le", {"local_address": "198.51.100.1"})
        have = 0
        for n in counts:
            secs = grow(c, have, n, args.chunk) if n > have else 0.0
            create_rate = (n - have) / secs if secs > 0 else float("nan")
            log(f"{n} sessions stored ({n - have} added in {secs:.1f} s)")
            have = n
            measure_n = max(n, 1)
            if n == 0:
                # Something to edit: one session (not counted in N).
                grow(c, 0, 1, 1)
                have = 1
            perf = None
            if os.environ.get("STRAIT_BENCH_PERF") and n == counts[-1]:
                # A CPU profile of straitd while one client PATCHes (perf report -i FILE).
                perf = subprocess.Popen(["perf", "record", "-F", "999",
                                         "--call-graph", os.environ.get("STRAIT_BENCH_PERF_CALL_GRAPH", "fp"),
                                         "-o", os.environ["STRAIT_BENCH_PERF"],
                                         "-p", str(proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            settle(proc.pid)
            cpu_before = cpu_seconds(proc.pid)
            one, _ = patch_load(measure_n, 1, args.requests)
            if perf is not None:
                perf.send_signal(signal.SIGINT)
                perf.wait()
            # Everything the PATCHes cost straitd, the runtimes' reactions included.
            settle(proc.pid)
            cpu_per_patch = (cpu_seconds(proc.pid) - cpu_before) / args.requests
            eight, eight_rate = patch_load(measure_n, 8, max(1, args.requests // 4))
            puts = put_load(c, measure_n, max(1, args.requests // 4))
            settle(proc.pid)
            lists = [c.timed_read(f"{SVC}/sessions?page_size=1000") for _ in range(5)]
            summaries = [c.timed_read(f"{SVC}/summary") for _ in range(5)]
            details = [c.timed("GET", f"{SVC}/sessions/s{random.randrange(measure_n)}/detailed-status")[0]
                       for _ in range(20)]
            rss_now = rss_mb(proc.pid)
            time.sleep(10)
            rss_idle = rss_mb(proc.pid)
            rows.append((n, create_rate, one, cpu_per_patch, eight, eight_rate, puts, lists, summaries, details,
                         rss_now, rss_idle))
            log(f"N={n}: PATCH p50 {ms(pct(one, 50))} ms ({ms(cpu_per_patch)} ms of straitd CPU each), 8 clients p50 {ms(pct(eight, 50))} ms, RSS {rss_now:.0f} MB")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)

    print("| sessions stored | created/s (hierarchical PATCH) | PATCH 1 client p50 / p99 ms | straitd CPU ms per PATCH | PATCH 8 clients p50 / p99 ms (req/s) | PUT p50 / p99 ms | list of 1,000 ms | summary ms | detailed-status ms | RSS MB (after 10 s idle) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (n, rate, one, cpu, eight, eight_rate, puts, lists, summ, det, rss_now, rss_idle) in rows:
        print(f"| {n:,} | {rate:.0f} | {ms(pct(one, 50))} / {ms(pct(one, 99))} | {ms(cpu)} | "
              f"{ms(pct(eight, 50))} / {ms(pct(eight, 99))} ({eight_rate:.0f}/s) | "
              f"{ms(pct(puts, 50))} / {ms(pct(puts, 99))} | {ms(statistics.median(lists))} | "
              f"{ms(statistics.median(summ))} | {ms(statistics.median(det))} | {rss_now:.0f} ({rss_idle:.0f}) |")

if __name__ == "__main__":
    main()
