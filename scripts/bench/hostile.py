#!/usr/bin/env python3
"""Hostile-network benchmark (issue 12): what a forged IKE flood costs a strait gateway.

Five network namespaces: a bridge (`br0`) and four hosts plugged into it by veth pairs, all on
198.51.100.0/24: gateway A (.1, the one under attack), its peers B (.2) and C (.3), each a
straitd, and the attacker X (.66), which forges IKE traffic "from" B's address with a raw socket
(`strait-hostile`). A has two route-based sessions: to B (INITIATOR; an established tunnel,
VTIs 169.254.100.1/.2) and to C (RESPOND_ONLY; C initiates it, VTIs 169.254.101.1/.2).

For each flood kind, at --rate forged datagrams per second for --seconds:

  (a) fresh session  C's session is enabled and timed until C reports it UP, then disabled
                     again; --fresh-runs times, the median (and the worst) reported, next to
                     the same without a flood (the `none` row);
  (b) tunnel         `ping -i 0.01` from A to B's VTI through the established tunnel: loss;
                     a forced Child SA rekey and a forced IKE SA rekey of A's session to B
                     (`?action=rekey_child`, `?action=rekey_ike`), timed until A's status shows
                     the new SA;
  (c) RSS            straitd A's VmRSS before the flood, the peak during it (sampled every
                     0.25 s), and --after seconds after it ended;
  (d) log            lines straitd A wrote (STRAIT_LOG=info) from the flood's start until the
                     RSS "after" reading.

Flood kinds (all "from" 198.51.100.2 to A's UDP 500; see `strait-hostile flood --help`):

  none           no flood (the baseline)
  unacceptable   IKE_SA_INIT with random, unassigned transform ids, random SPIs
  invalid-ke     acceptable proposal, all-zero KE, random SPIs
  half-open      acceptable proposal, valid KE, random SPIs (a half-open SA each, unless COOKIEs)
  cookie-replay  one request with a valid COOKIE (obtained under load in B's namespace, as an
                 on-path attacker would see it) replayed from 4,200 source ports
  padded-30k     like half-open, each request padded to 30,000 bytes (IP fragments)
  version-3      major version 3
  critical       an unknown payload type (200) with the critical bit set

  sudo scripts/bench-hostile.sh [--rate 15000] [--seconds 20] [--kinds none,invalid-ke,...]

Everything lives in namespaces this script creates and removes, also on failure.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

A, B, C, X = "198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.66"
VTI_A_B, VTI_B = "169.254.100.1", "169.254.100.2"
VTI_A_C, VTI_C = "169.254.101.1", "169.254.101.2"
SVC = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn"
LE_PATH = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le"
ADMIN_PASSWORD = "bench-admin-" + secrets.token_hex(8)
PSK = "bench-psk-" + secrets.token_hex(8)
PORT = 18445
KINDS = ["none", "unacceptable", "invalid-ke", "half-open", "cookie-replay", "padded-30k",
         "version-3", "critical"]


def run(*args, check=True, timeout=60):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr or r.stdout}")
    return r.stdout


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Lan:
    """The bridge and the four host namespaces; `close` removes them all."""

    def __init__(self):
        tag = secrets.token_hex(3)
        self.sw = f"hb-sw-{tag}"
        self.hosts = {name: f"hb-{name}-{tag}" for name in ("a", "b", "c", "x")}
        self.created = []
        try:
            for ns in [self.sw, *self.hosts.values()]:
                run("ip", "netns", "add", ns)
                self.created.append(ns)
                run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", self.sw, "link", "add", "br0", "type", "bridge")
            run("ip", "-n", self.sw, "link", "set", "br0", "up")
            for name, addr in (("a", A), ("b", B), ("c", C), ("x", X)):
                ns = self.hosts[name]
                run("ip", "link", "add", "st-lan", "netns", ns, "type", "veth", "peer", "name",
                    f"p-{name}", "netns", self.sw)
                run("ip", "-n", self.sw, "link", "set", f"p-{name}", "master", "br0", "up")
                run("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "st-lan")
                run("ip", "-n", ns, "link", "set", "st-lan", "up")
        except Exception:
            self.close()
            raise

    def ns(self, name):
        return self.hosts[name]

    def close(self):
        for ns in reversed(self.created):
            run("ip", "netns", "del", ns, check=False)
        self.created = []


class Straitd:
    """straitd in a host namespace, its API on 127.0.0.1:PORT there, stderr in a file."""

    def __init__(self, straitd, ns, local):
        self.ns = ns
        self.dir = tempfile.mkdtemp(prefix="bench-hostile-")
        self.log_path = f"{self.dir}/straitd.log"
        env = dict(os.environ, STRAIT_ADMIN_PASSWORD=ADMIN_PASSWORD,
                   STRAIT_LOG=os.environ.get("BENCH_STRAIT_LOG", "info"))
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, straitd, "--data-dir", self.dir, "--listen", f"127.0.0.1:{PORT}"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "w"), start_new_session=True)
        # `ip netns exec` execs straitd, so the PID is straitd's.
        self.pid = self.proc.pid
        deadline = time.time() + 30
        while time.time() < deadline:
            code = run("ip", "netns", "exec", ns, "curl", "-sk", "-m", "2", "-o", "/dev/null", "-w",
                       "%{http_code}", f"https://127.0.0.1:{PORT}/healthz", check=False)
            if code == "200":
                break
            time.sleep(0.2)
        else:
            self.close()
            raise RuntimeError(f"straitd did not start in {ns}; log: {open(self.log_path).read()[-2000:]}")
        self.api("PATCH", "/policy/api/v1/infra/tier-0s/t0", {})
        self.api("PATCH", SVC, {})
        self.api("PATCH", f"{SVC}/local-endpoints/le", {"local_address": local})

    def api(self, method, path, body=None, ok=True):
        args = ["ip", "netns", "exec", self.ns, "curl", "-sk", "-m", "10", "-u", f"admin:{ADMIN_PASSWORD}",
                "-X", method, f"https://127.0.0.1:{PORT}{path}", "-o", "/dev/stdout", "-w", "\n%{http_code}"]
        if body is not None:
            args += ["-H", "content-type: application/json", "-d", json.dumps(body)]
        out = run(*args, timeout=20)
        text, _, code = out.rpartition("\n")
        if ok and not code.startswith("2"):
            raise RuntimeError(f"{method} {path}: {code} {text}")
        try:
            return json.loads(text) if text.strip() else None
        except json.JSONDecodeError:
            return None

    def session(self, sid, peer, vti, initiator, enabled=True):
        self.api("PATCH", f"{SVC}/sessions/{sid}", {
            "resource_type": "RouteBasedIPSecVpnSession",
            "display_name": sid,
            "local_endpoint_path": LE_PATH,
            "peer_address": peer, "peer_id": peer, "psk": PSK,
            "enabled": enabled,
            "connection_initiation_mode": "INITIATOR" if initiator else "RESPOND_ONLY",
            "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti], "prefix_length": 30}]}],
        })

    def status(self, sid):
        body = self.api("GET", f"{SVC}/sessions/{sid}/detailed-status", ok=False) or {}
        return (body.get("results") or [{}])[0]

    def wait(self, sid, pred, secs, what):
        deadline = time.time() + secs
        while True:
            st = self.status(sid)
            if pred(st):
                return st
            if time.time() > deadline:
                raise RuntimeError(f"{self.ns}: timed out after {secs} s waiting for {what}: {json.dumps(st)}")
            time.sleep(0.05)

    def rss_kb(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def log_lines(self):
        with open(self.log_path, "rb") as f:
            return sum(1 for _ in f)

    def close(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def up(st):
    return st.get("runtime_status") == "UP"


def down(st):
    return st.get("runtime_status") == "DOWN"


class Bench:
    def __init__(self, args):
        self.args = args
        self.lan = Lan()
        self.tmp = tempfile.mkdtemp(prefix="bench-hostile-x-")
        self.gw = {}
        try:
            self.gw["a"] = Straitd(args.straitd, self.lan.ns("a"), A)
            self.gw["b"] = Straitd(args.straitd, self.lan.ns("b"), B)
            self.gw["c"] = Straitd(args.straitd, self.lan.ns("c"), C)
            a, b, c = self.gw["a"], self.gw["b"], self.gw["c"]
            b.session("to-a", A, VTI_B, initiator=False)
            c.session("to-a", A, VTI_C, initiator=True, enabled=False)
            a.session("to-c", C, VTI_A_C, initiator=False)
            a.session("to-b", B, VTI_A_B, initiator=True)
            a.wait("to-b", up, 30, "A's session to B UP")
        except Exception:
            self.close()
            raise

    def close(self):
        for name, g in self.gw.items():
            if self.args.logs:
                os.makedirs(self.args.logs, exist_ok=True)
                shutil.copy(g.log_path, f"{self.args.logs}/straitd-{name}.log")
            g.close()
        self.lan.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def hostile(self, ns, *args):
        return ["ip", "netns", "exec", ns, self.args.hostile, *args]

    def flood_cmd(self, kind, seconds):
        x = self.lan.ns("x")
        rate = str(self.args.rate)
        common = ["flood", "--dst", f"{A}:500", "--rate", rate, "--seconds", str(seconds)]
        if kind == "none":
            return ["sleep", str(seconds)]
        if kind == "cookie-replay":
            return self.hostile(x, *common, "--src", f"{B}:20000", "--ports", "4200", "--spi", "keep",
                                "--replay", f"{self.tmp}/cookie-request.bin")
        extra = {
            "unacceptable": ["--kind", "unacceptable"],
            "invalid-ke": ["--kind", "invalid-ke-zero"],
            "half-open": ["--kind", "valid-ke"],
            "padded-30k": ["--kind", "valid-ke", "--pad", "30000"],
            "version-3": ["--kind", "version3"],
            "critical": ["--kind", "critical"],
        }[kind]
        return self.hostile(x, *common, "--src", f"{B}:500", "--spi", "random", *extra)

    def capture_cookie(self):
        """Put A under load from B's address, obtain a COOKIE in B's namespace (where A's
        answers to B's address arrive) and keep the request carrying it for the replay."""
        load = subprocess.Popen(
            self.hostile(self.lan.ns("x"), "flood", "--src", f"{B}:500", "--dst", f"{A}:500",
                         "--kind", "valid-ke", "--spi", "random", "--rate", "200", "--seconds", "8"),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(1)
            out = run(*self.hostile(self.lan.ns("b"), "cookie", "--src", f"{B}:40000", "--dst", f"{A}:500",
                                    "--seconds", "6", "--out", f"{self.tmp}/cookie-request.bin"))
            log(out.strip())
        finally:
            load.wait()

    def fresh_session(self):
        """Enable C's session, time it until C reports UP, disable it and wait until A has
        let go of it."""
        a, c = self.gw["a"], self.gw["c"]
        t = time.monotonic()
        c.api("PATCH", f"{SVC}/sessions/to-a", {"enabled": True})
        try:
            c.wait("to-a", up, 30, "C's fresh session UP")
            took = time.monotonic() - t
        except RuntimeError as e:
            log(str(e))
            took = float("inf")
        c.api("PATCH", f"{SVC}/sessions/to-a", {"enabled": False})
        a.wait("to-c", lambda st: not up(st), 30, "A's session to C no longer UP")
        return took

    def rekey(self, action):
        """Force a rekey of A's session to B; time until A's status shows the new SA."""
        a = self.gw["a"]
        st = a.status("to-b")
        sas = st.get("sas") or {}
        if action == "rekey_child":
            old = {ch.get("spi_in") for ch in sas.get("child") or []}
            done = lambda s: any(ch.get("spi_in") not in old for ch in (s.get("sas") or {}).get("child") or [])
        else:
            old = ((sas.get("ike") or {}).get("spi_i"), (sas.get("ike") or {}).get("spi_r"))
            done = lambda s: (((s.get("sas") or {}).get("ike") or {}).get("spi_i"),
                              ((s.get("sas") or {}).get("ike") or {}).get("spi_r")) != old and up(s)
        t = time.monotonic()
        a.api("POST", f"{SVC}/sessions/to-b?action={action}")
        try:
            a.wait("to-b", done, 30, f"{action} to complete")
            return time.monotonic() - t
        except RuntimeError as e:
            log(str(e))
            return float("inf")

    def ping(self, seconds):
        count = max(1, int(seconds / 0.01))
        out = run("ip", "netns", "exec", self.lan.ns("a"), "ping", "-n", "-q", "-i", "0.01", "-W", "1",
                  "-c", str(count), VTI_B, check=False, timeout=seconds + 30)
        for line in out.splitlines():
            if "packets transmitted" in line:
                parts = line.split(", ")
                sent = int(parts[0].split()[0])
                received = int(parts[1].split()[0])
                return sent, received
        return count, 0

    def measure(self, kind):
        a = self.gw["a"]
        args = self.args
        log(f"--- {kind} ---")
        a.wait("to-b", up, 60, "A's session to B UP before the flood")
        if kind == "cookie-replay":
            self.capture_cookie()
        time.sleep(1)
        rss_before = a.rss_kb()
        lines_before = a.log_lines()
        peak = [rss_before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], a.rss_kb())
                time.sleep(0.25)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        flood = subprocess.Popen(self.flood_cmd(kind, args.seconds), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        started = time.monotonic()
        try:
            time.sleep(1)
            fresh = [self.fresh_session() for _ in range(args.fresh_runs)]
            ping_secs = max(2.0, args.seconds - (time.monotonic() - started) - 2)
            ping_result = {}
            pinger = threading.Thread(target=lambda: ping_result.update(r=self.ping(ping_secs)))
            pinger.start()
            time.sleep(0.5)
            child = self.rekey("rekey_child")
            time.sleep(1)
            ike = self.rekey("rekey_ike")
            pinger.join()
        finally:
            out, _ = flood.communicate(timeout=args.seconds + 120)
        flood_secs = time.monotonic() - started
        sent_line = next((l for l in out.splitlines() if l.startswith("sent ")), out.strip()[-200:])
        time.sleep(args.after)
        stop.set()
        sampler.join()
        rss_after = a.rss_kb()
        lines_added = a.log_lines() - lines_before
        sent, received = ping_result.get("r", (0, 0))
        r = {
            "kind": kind,
            "flood": sent_line if kind != "none" else "-",
            "flood_secs": flood_secs,
            "fresh_median": statistics.median(fresh),
            "fresh_max": max(fresh),
            "ping_sent": sent,
            "ping_lost": sent - received,
            "rekey_child": child,
            "rekey_ike": ike,
            "rss_before": rss_before,
            "rss_peak": peak[0],
            "rss_after": rss_after,
            "log_lines": lines_added,
        }
        log(json.dumps(r))
        return r


def fmt_s(v):
    return "timeout" if v == float("inf") else f"{v:.2f}"


def markdown(results, args):
    quiet = next((r["fresh_median"] for r in results if r["kind"] == "none"), None)
    lines = [
        f"{args.rate} forged datagrams/s for {args.seconds} s per kind (the `none` row: no flood); "
        f"fresh session: median of {args.fresh_runs}; RSS after: {args.after} s after the flood.",
        "",
        "| flood | sent (achieved rate) | fresh session UP s (median / worst) | limit max(1 s, 2x quiet) | ping loss | Child SA rekey s | IKE SA rekey s | RSS before / peak / after MB | RSS growth peak MB | log lines added |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        limit = max(1.0, 2 * quiet) if quiet is not None else None
        lines.append(
            f"| {r['kind']} | {r['flood']} | {fmt_s(r['fresh_median'])} / {fmt_s(r['fresh_max'])} | "
            f"{'' if limit is None else f'{limit:.2f}'} | {r['ping_lost']}/{r['ping_sent']} | "
            f"{fmt_s(r['rekey_child'])} | {fmt_s(r['rekey_ike'])} | "
            f"{r['rss_before'] / 1024:.1f} / {r['rss_peak'] / 1024:.1f} / {r['rss_after'] / 1024:.1f} | "
            f"{(r['rss_peak'] - r['rss_before']) / 1024:+.1f} | {r['log_lines']} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--straitd", required=True)
    ap.add_argument("--hostile", required=True, help="the strait-hostile binary")
    ap.add_argument("--rate", type=int, default=15000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--after", type=float, default=30, help="seconds after the flood for the RSS reading")
    ap.add_argument("--fresh-runs", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--logs", help="copy each straitd's log (a, b, c) into this directory at the end")
    args = ap.parse_args()
    kinds = args.kinds.split(",")
    for k in kinds:
        if k not in KINDS:
            ap.error(f"unknown kind {k!r}; known: {', '.join(KINDS)}")
    if "none" in kinds:
        kinds.remove("none")
    kinds.insert(0, "none")
    bench = Bench(args)
    results = []
    try:
        for k in kinds:
            results.append(bench.measure(k))
    finally:
        bench.close()
    table = markdown(results, args)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
