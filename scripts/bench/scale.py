#!/usr/bin/env python3
"""Tunnels at scale (issue 16): N route-based sessions between two straitd, how fast they all
come UP, and what they cost. Run by scripts/bench-scale.sh.

Two network namespaces joined by a veth. Gateway A has KA local endpoints (198.51.100.1 and
up), gateway B has KB (203.0.113.1 and up); outer addresses may come only from those two /24s
(see the README's network safety), so up to 250 sessions B has one local endpoint per session
and A one local endpoint, as a hub with many sites; above that A gets KA = ceil(N / 250)
local endpoints and B 250, and session i joins A's address i // KB to B's address i % KB (IKE
tells sessions apart by their pair of addresses). Every session has its own /30 VTI subnet in
169.254.0.0/16 (A .1, B .2). B's sessions are RESPOND_ONLY in an enabled service; A's are
INITIATOR in a service that starts disabled. Sessions are stored through hierarchical
`PATCH /infra` requests (NSX's bulk API), so storing them is not part of the figure.

Measured, per N:
- setup: A's service is enabled with one PATCH; the time until A's service summary counts N
  established sessions (IKE SA + first Child SA each), and the rate;
- both straitd's CPU time during setup, RSS and open file descriptors per tunnel, the kernel's
  unreclaimable memory per tunnel (SUnreclaim, system-wide);
- a sample of --pings sessions pinged through their tunnels (A's VTI to B's);
- idle: CPU used by both straitd over --idle seconds with every tunnel UP (DPD on);
  --perf-idle DIR also records a perf call graph of each over that window
  (DIR/idle-N-a.data, DIR/idle-N-b.data; read with `perf report -i`);
- with --restart: straitd A killed with SIGKILL and started again on the same data directory;
  the time until every session is UP again;
- stop: SIGTERM to A, then to B, and the time until each has exited (every VTI removed; the
  run fails if one is left).

--group picks the Diffie-Hellman group of IKE and of the Child SAs (PFS): modp2048 (NSX's
default profiles, GROUP14) or x25519 (GROUP31, in profiles this script creates).

Everything lives in namespaces this script creates and removes, also on failure.
"""

import argparse
import json
import math
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SVC = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn"
SVC_PATH = "/infra/tier-0s/t0/ipsec-vpn-services/vpn"
ADMIN_PASSWORD = "bench-admin-" + secrets.token_hex(8)
PSK = "bench-psk-" + secrets.token_hex(8)
PORT = 18448
MAX_B = 250
CHUNK = 500
TICKS = os.sysconf("SC_CLK_TCK")


def run(*args, check=True, timeout=600, input=None):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:6])} failed ({r.returncode}): {r.stderr or r.stdout}"[:2000])
    return r.stdout


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def a_addr(j):
    return f"198.51.100.{1 + j}"


def b_addr(k):
    return f"203.0.113.{1 + k}"


def vti(i, side):
    return f"169.254.{i // 64}.{(i % 64) * 4 + (1 if side == 'a' else 2)}"


def sunreclaim_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("SUnreclaim:"):
                return int(line.split()[1])
    return 0


class Layout:
    def __init__(self, n):
        self.n = n
        self.kb = min(n, MAX_B)
        self.ka = math.ceil(n / self.kb)

    def pair(self, i):
        """(A's address index, B's address index) of session i."""
        return i // self.kb, i % self.kb


class Link:
    """Namespaces A and B joined by a veth, with the layout's addresses."""

    def __init__(self, layout):
        tag = secrets.token_hex(3)
        self.a, self.b = f"sc-a-{tag}", f"sc-b-{tag}"
        self.created = []
        try:
            for ns in (self.a, self.b):
                run("ip", "netns", "add", ns)
                self.created.append(ns)
                run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "link", "add", "st-sc", "netns", self.a, "type", "veth", "peer", "name", "st-sc",
                "netns", self.b)
            run("ip", "-n", self.a, "-batch", "-",
                input="".join(f"addr add {a_addr(j)}/24 dev st-sc\n" for j in range(layout.ka)))
            run("ip", "-n", self.b, "-batch", "-",
                input="".join(f"addr add {b_addr(k)}/24 dev st-sc\n" for k in range(layout.kb)))
            for ns in (self.a, self.b):
                run("ip", "-n", ns, "link", "set", "st-sc", "up")
            run("ip", "-n", self.a, "route", "add", "203.0.113.0/24", "dev", "st-sc")
            run("ip", "-n", self.b, "route", "add", "198.51.100.0/24", "dev", "st-sc")
        except Exception:
            self.close()
            raise

    def close(self):
        for ns in reversed(self.created):
            run("ip", "netns", "del", ns, check=False)
        self.created = []


class Straitd:
    """straitd in a namespace, its API on 127.0.0.1:PORT there (driven with curl)."""

    def __init__(self, straitd, ns, name, data_dir=None):
        self.straitd, self.ns, self.name = straitd, ns, name
        self.dir = data_dir or tempfile.mkdtemp(prefix=f"bench-scale-{name}-")
        self.proc = None
        self.start()

    def start(self):
        self.log_path = f"{self.dir}/straitd.log"
        env = dict(os.environ, STRAIT_ADMIN_PASSWORD=ADMIN_PASSWORD, STRAIT_LOG="warn")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, self.straitd, "--data-dir", self.dir, "--listen",
             f"127.0.0.1:{PORT}"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "a"), start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            code = run("ip", "netns", "exec", self.ns, "curl", "-sk", "-m", "2", "-o", "/dev/null", "-w",
                       "%{http_code}", f"https://127.0.0.1:{PORT}/healthz", check=False)
            if code == "200":
                return
            time.sleep(0.2)
        raise RuntimeError(f"straitd {self.name} did not start: {open(self.log_path).read()[-2000:]}")

    def api(self, method, path, body=None, timeout=600):
        args = ["ip", "netns", "exec", self.ns, "curl", "-sk", "-m", str(timeout), "-u",
                f"admin:{ADMIN_PASSWORD}", "-X", method, f"https://127.0.0.1:{PORT}{path}",
                "-o", "/dev/stdout", "-w", "\n%{http_code}"]
        data = None
        if body is not None:
            args += ["-H", "content-type: application/json", "--data-binary", "@-"]
            data = json.dumps(body)
        out = run(*args, timeout=timeout + 10, input=data)
        text, _, code = out.rpartition("\n")
        if not code.startswith("2"):
            raise RuntimeError(f"{self.name}: {method} {path}: {code} {text[:1000]}")
        return json.loads(text) if text.strip() else None

    def established(self):
        s = self.api("GET", f"{SVC}/summary", timeout=60) or {}
        return s.get("session_summary", {}).get("established_sessions", 0)

    def pid(self):
        return self.proc.pid

    def cpu_s(self):
        with open(f"/proc/{self.pid()}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / TICKS

    def rss_kib(self):
        with open(f"/proc/{self.pid()}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid()}/fd"))

    def errors_logged(self):
        with open(self.log_path, errors="replace") as f:
            return [l for l in f if " ERROR " in l]

    def kill9(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=1800):
        """SIGTERM and wait for the exit (raises if it takes longer than timeout)."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        self.proc = None

    def close(self, keep_dir=False):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=120)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait()
        self.proc = None
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def hierarchical(children):
    return {"resource_type": "Infra", "children": [{"resource_type": "ChildTier0", "Tier0": {
        "resource_type": "Tier0", "id": "t0", "children": [{
            "resource_type": "ChildIPSecVpnService", "IPSecVpnService": {
                "resource_type": "IPSecVpnService", "id": "vpn", "children": children}}]}}]}


def profiles(gw, group):
    """The profile paths sessions use ({} for NSX's defaults)."""
    if group == "modp2048":
        return {}
    gw.api("PATCH", "/policy/api/v1/infra/ipsec-vpn-ike-profiles/bench-ike", {
        "ike_version": "IKE_V2", "encryption_algorithms": ["AES_GCM_128"],
        "dh_groups": ["GROUP31"]})
    gw.api("PATCH", "/policy/api/v1/infra/ipsec-vpn-tunnel-profiles/bench-tunnel", {
        "encryption_algorithms": ["AES_GCM_128"], "enable_perfect_forward_secrecy": True,
        "dh_groups": ["GROUP31"]})
    return {"ike_profile_path": "/infra/ipsec-vpn-ike-profiles/bench-ike",
            "tunnel_profile_path": "/infra/ipsec-vpn-tunnel-profiles/bench-tunnel"}


def configure(gw, side, layout, group, enabled):
    gw.api("PATCH", "/policy/api/v1/infra/tier-0s/t0", {})
    gw.api("PATCH", SVC, {"enabled": enabled})
    extra = profiles(gw, group)
    count = layout.ka if side == "a" else layout.kb
    addr = a_addr if side == "a" else b_addr
    for x in range(count):
        gw.api("PATCH", f"{SVC}/local-endpoints/le-{x}", {"local_address": addr(x)})
    children = []
    for i in range(layout.n):
        j, k = layout.pair(i)
        local, peer = (j, b_addr(k)) if side == "a" else (k, a_addr(j))
        children.append({"resource_type": "ChildIPSecVpnSession", "IPSecVpnSession": {
            "resource_type": "RouteBasedIPSecVpnSession", "id": f"s{i}", "display_name": f"s{i}",
            "local_endpoint_path": f"{SVC_PATH}/local-endpoints/le-{local}",
            "peer_address": peer, "peer_id": peer, "psk": PSK,
            "connection_initiation_mode": "INITIATOR" if side == "a" else "RESPOND_ONLY",
            "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti(i, side)], "prefix_length": 30}]}],
            **extra}})
        if len(children) == CHUNK or i == layout.n - 1:
            gw.api("PATCH", "/policy/api/v1/infra", hierarchical(children))
            children = []


def wait_all_up(gw, n, limit, what):
    """Seconds until gw counts n established sessions, and when half were (None: never)."""
    t0 = time.monotonic()
    half = None
    last = -1
    while True:
        try:
            up = gw.established()
        except RuntimeError as e:
            log(f"{what}: summary failed ({e}); retrying")
            up = last
        now = time.monotonic() - t0
        if half is None and up * 2 >= n:
            half = now
        if up != last:
            last = up
        if up >= n:
            return now, half
        if now > limit:
            raise RuntimeError(f"{what}: only {up} of {n} sessions UP after {limit:.0f} s")
        time.sleep(0.25)


def count_vtis(ns):
    out = run("ip", "-n", ns, "-o", "link", "show", "type", "tun")
    return sum(1 for line in out.splitlines() if ": st" in line)


def ping_sample(ns, n, count):
    ok = 0
    sample = random.Random(n).sample(range(n), min(count, n))
    for i in sample:
        r = subprocess.run(["ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W",
                            "2", vti(i, "b")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok += r.returncode == 0
    return ok, len(sample)


def bench(args, n):
    layout = Layout(n)
    log(f"N={n}: A has {layout.ka} local endpoint(s), B {layout.kb}")
    link = Link(layout)
    gws = []
    try:
        kernel0 = sunreclaim_kib()
        a = Straitd(args.straitd, link.a, "a")
        gws.append(a)
        b = Straitd(args.straitd, link.b, "b")
        gws.append(b)
        t = time.monotonic()
        configure(b, "b", layout, args.group, True)
        configure(a, "a", layout, args.group, False)
        log(f"N={n}: stored {n} sessions on each side in {time.monotonic() - t:.1f} s")
        # B makes its VTIs in the background: A starts once B has all of them.
        t = time.monotonic()
        while count_vtis(link.b) < n:
            if time.monotonic() - t > 120 + n / 20:
                raise RuntimeError(f"B made only {count_vtis(link.b)} of {n} VTIs")
            time.sleep(0.5)
        log(f"N={n}: B's {n} VTIs made {time.monotonic() - t:.1f} s after the last PATCH")
        rss0 = (a.rss_kib(), b.rss_kib())
        cpu0 = (a.cpu_s(), b.cpu_s())
        a.api("PATCH", SVC, {"enabled": True})
        limit = 120 + n / 20
        setup_s, half_s = wait_all_up(a, n, limit, f"N={n} setup")
        cpu1 = (a.cpu_s(), b.cpu_s())
        log(f"N={n}: all UP in {setup_s:.1f} s ({n / setup_s:.0f}/s; half after {half_s:.1f} s)")
        pinged, sampled = ping_sample(link.a, n, args.pings)
        rss = (a.rss_kib(), b.rss_kib())
        fds = (a.fds(), b.fds())
        kernel = sunreclaim_kib() - kernel0
        perfs = []
        if args.perf_idle:
            # A call-graph profile of each straitd over the idle window (`perf report -i`).
            os.makedirs(args.perf_idle, exist_ok=True)
            for g in (a, b):
                out = os.path.join(args.perf_idle, f"idle-{n}-{g.name}.data")
                perfs.append(subprocess.Popen(
                    ["perf", "record", "-q", "-F", "499", "-g", "-p", str(g.proc.pid), "-o", out,
                     "--", "sleep", str(args.idle)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        c0 = (a.cpu_s(), b.cpu_s())
        time.sleep(args.idle)
        c1 = (a.cpu_s(), b.cpu_s())
        for pr in perfs:
            pr.wait()
        idle = tuple(100 * (y - x) / args.idle for x, y in zip(c0, c1))
        row = {
            "n": n, "group": args.group, "ka": layout.ka, "kb": layout.kb,
            "setup_s": setup_s, "half_s": half_s, "rate": n / setup_s,
            "cpu_a": cpu1[0] - cpu0[0], "cpu_b": cpu1[1] - cpu0[1],
            "rss_a_kib": rss[0], "rss_b_kib": rss[1],
            "rss_a_before_kib": rss0[0], "rss_b_before_kib": rss0[1],
            "fds_a": fds[0], "fds_b": fds[1], "kernel_per_tunnel_kib": kernel / (2 * n),
            "pinged": pinged, "sampled": sampled, "idle_a": idle[0], "idle_b": idle[1],
        }
        if args.restart:
            t = time.monotonic()
            a.kill9()
            # The process is gone only once the kernel has closed its TUN devices.
            exit_s = time.monotonic() - t
            a.start()
            up_s, _ = wait_all_up(a, n, limit, f"N={n} restart of A")
            row["restart_a_s"] = exit_s + up_s
            row["restart_a_exit_s"] = exit_s
            log(f"N={n}: kill -9 of A: the old process was gone after {exit_s:.1f} s, "
                f"the new one had all UP {up_s:.1f} s after it started")
        row["errors"] = len(a.errors_logged()) + len(b.errors_logged())
        # A graceful stop (SIGTERM): Deletes sent, every VTI removed, process gone.
        for g, link_ns in ((a, link.a), (b, link.b)):
            t = time.monotonic()
            g.stop()
            row[f"stop_{g.name}_s"] = time.monotonic() - t
            left = count_vtis(link_ns)
            if left:
                raise RuntimeError(f"straitd {g.name} stopped and left {left} VTIs")
        log(f"N={n}: stopped A in {row['stop_a_s']:.1f} s, B in {row['stop_b_s']:.1f} s")
        return row
    finally:
        for g in gws:
            g.close()
        link.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--straitd", required=True)
    p.add_argument("--sessions", default="1000", help="comma-separated N values")
    p.add_argument("--group", choices=["modp2048", "x25519"], default="modp2048")
    p.add_argument("--pings", type=int, default=20)
    p.add_argument("--idle", type=float, default=30)
    p.add_argument("--restart", action="store_true")
    p.add_argument("--perf-idle", metavar="DIR",
                   help="record a perf call graph of each straitd over the idle window into DIR")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args()
    rows = []
    for n in [int(x) for x in args.sessions.split(",")]:
        if not 1 <= n <= 16384:
            sys.exit("N must be 1..16384 (one /30 VTI subnet each in 169.254.0.0/16)")
        rows.append(bench(args, n))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print("| N | DH | endpoints A / B | all UP (s) | half UP (s) | setups/s | CPU A / B (s) "
          "| RSS A / B per tunnel (KiB) | fds A / B | kernel per VTI (KiB) | pings | idle CPU A / B | restart A (s) | stop A / B (s) | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']} | {r['group']} | {r['ka']} / {r['kb']} | {r['setup_s']:.1f} | {r['half_s']:.1f} "
              f"| {r['rate']:.0f} | {r['cpu_a']:.1f} / {r['cpu_b']:.1f} "
              f"| {r['rss_a_kib'] / r['n']:.0f} / {r['rss_b_kib'] / r['n']:.0f} | {r['fds_a']} / {r['fds_b']} "
              f"| {r['kernel_per_tunnel_kib']:.0f} | {r['pinged']}/{r['sampled']} "
              f"| {r['idle_a']:.1f} % / {r['idle_b']:.1f} % | {r.get('restart_a_s', float('nan')):.1f} (exit {r.get('restart_a_exit_s', float('nan')):.1f}) "
              f"| {r['stop_a_s']:.1f} / {r['stop_b_s']:.1f} | {r['errors']} |")


if __name__ == "__main__":
    main()
