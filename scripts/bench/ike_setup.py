#!/usr/bin/env python3
"""IKE setup-rate benchmark (issue 13): IKE SA + first Child SA setups per second between two
straitd, with pre-shared keys, ECDSA P-256 certificates and RSA-2048 certificates.

Two network namespaces joined by a veth: gateway A (198.51.100.1) and gateway B, which holds
--sessions addresses (198.51.100.10 and up), one local endpoint and one RESPOND_ONLY session
per address. A has one INITIATOR session to each of B's addresses in a VPN service that starts
disabled. Each round enables A's service (one PATCH) and times until A's service summary
counts every session UP; then the service is disabled and every session goes down before the
next round. setups/s = sessions / time, the median of --rounds rounds.

Certificates (made with openssl in a temporary directory): one CA per key type; A's site
certificate has subjectAltName IP 198.51.100.1; B's one certificate carries all of B's
addresses, so B's derived local ID is its first address and every A session expects that.

  sudo scripts/bench-ike-setup.sh [--sessions 100] [--rounds 3] [--modes psk,ecdsa-p256,rsa-2048]

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
import time

A = "198.51.100.1"
SVC = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn"
LE = "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints"
ADMIN_PASSWORD = "bench-admin-" + secrets.token_hex(8)
PSK = "bench-psk-" + secrets.token_hex(8)
PORT = 18446
MODES = ["psk", "ecdsa-p256", "rsa-2048"]


def run(*args, check=True, timeout=120, input=None):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr or r.stdout}")
    return r.stdout


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def b_addr(i):
    return f"198.51.100.{10 + i}"


class Link:
    """Namespaces A and B joined by a veth; B has `n` addresses."""

    def __init__(self, n):
        tag = secrets.token_hex(3)
        self.a, self.b = f"ib-a-{tag}", f"ib-b-{tag}"
        self.created = []
        try:
            for ns in (self.a, self.b):
                run("ip", "netns", "add", ns)
                self.created.append(ns)
                run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "link", "add", "st-ib", "netns", self.a, "type", "veth", "peer", "name", "st-ib",
                "netns", self.b)
            run("ip", "-n", self.a, "addr", "add", f"{A}/24", "dev", "st-ib")
            batch = "".join(f"addr add {b_addr(i)}/24 dev st-ib\n" for i in range(n))
            run("ip", "-n", self.b, "-batch", "-", input=batch)
            for ns in (self.a, self.b):
                run("ip", "-n", ns, "link", "set", "st-ib", "up")
        except Exception:
            self.close()
            raise

    def close(self):
        for ns in reversed(self.created):
            run("ip", "netns", "del", ns, check=False)
        self.created = []


class Straitd:
    """straitd in a namespace, its API on 127.0.0.1:PORT there."""

    def __init__(self, straitd, ns):
        self.ns = ns
        self.dir = tempfile.mkdtemp(prefix="bench-ike-setup-")
        self.log_path = f"{self.dir}/straitd.log"
        env = dict(os.environ, STRAIT_ADMIN_PASSWORD=ADMIN_PASSWORD, STRAIT_LOG="warn")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, straitd, "--data-dir", self.dir, "--listen", f"127.0.0.1:{PORT}"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "w"), start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            code = run("ip", "netns", "exec", ns, "curl", "-sk", "-m", "2", "-o", "/dev/null", "-w",
                       "%{http_code}", f"https://127.0.0.1:{PORT}/healthz", check=False)
            if code == "200":
                break
            time.sleep(0.2)
        else:
            self.close()
            raise RuntimeError(f"straitd did not start in {ns}: {open(self.log_path).read()[-2000:]}")
        self.api("PATCH", "/policy/api/v1/infra/tier-0s/t0", {})

    def api(self, method, path, body=None):
        args = ["ip", "netns", "exec", self.ns, "curl", "-sk", "-m", "30", "-u", f"admin:{ADMIN_PASSWORD}",
                "-X", method, f"https://127.0.0.1:{PORT}{path}", "-o", "/dev/stdout", "-w", "\n%{http_code}"]
        if body is not None:
            args += ["-H", "content-type: application/json", "-d", json.dumps(body)]
        out = run(*args, timeout=60)
        text, _, code = out.rpartition("\n")
        if not code.startswith("2"):
            raise RuntimeError(f"{method} {path}: {code} {text}")
        return json.loads(text) if text.strip() else None

    def established(self):
        s = self.api("GET", f"{SVC}/summary") or {}
        return s.get("session_summary", {}).get("established_sessions", 0)

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


def openssl(*args):
    run("openssl", *args)


def make_pki(tmp, mode, n):
    """CA, A's certificate (SAN IP A), B's certificate (SAN IPs of all B addresses)."""
    key = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if mode == "ecdsa-p256"
           else ["-newkey", "rsa:2048"])
    d = f"{tmp}/{mode}"
    os.makedirs(d)
    openssl("req", "-x509", "-nodes", *key, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem",
            "-days", "30", "-subj", f"/C=US/O=strait bench/CN=bench CA {mode}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=keyCertSign,cRLSign")
    for name, sans in (("a", [A]), ("b", [b_addr(i) for i in range(n)])):
        openssl("req", "-nodes", *key, "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr",
                "-subj", f"/C=US/O=strait bench/CN=gw-{name}")
        ext = f"{d}/{name}.ext"
        with open(ext, "w") as f:
            f.write("subjectAltName=" + ",".join(f"IP:{s}" for s in sans) + "\n")
            f.write("keyUsage=digitalSignature\n")
        openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
                "-CAcreateserial", "-out", f"{d}/{name}.pem", "-days", "30", "-sha256", "-extfile", ext)
    read = lambda f: open(f"{d}/{f}").read()
    return {"ca": read("ca.pem"), "a": (read("a.pem"), read("a.key")), "b": (read("b.pem"), read("b.key"))}


def configure(gw, side, mode, pki, n, enabled):
    cert = mode != "psk"
    if cert:
        pem, key = pki[side]
        gw.api("PATCH", "/policy/api/v1/infra/certificates/site", {"pem_encoded": pem, "private_key": key})
        gw.api("PATCH", "/policy/api/v1/infra/certificates/ca", {"pem_encoded": pki["ca"]})
    gw.api("PATCH", SVC, {"enabled": enabled})
    extra = {"certificate_path": "/infra/certificates/site", "trust_ca_paths": ["/infra/certificates/ca"]} if cert else {}
    if side == "a":
        gw.api("PATCH", f"{SVC}/local-endpoints/le", {"local_address": A, **extra})
    for i in range(n):
        if side == "b":
            gw.api("PATCH", f"{SVC}/local-endpoints/le-{i}", {"local_address": b_addr(i), **extra})
        peer = A if side == "b" else b_addr(i)
        body = {
            "resource_type": "RouteBasedIPSecVpnSession",
            "display_name": f"s{i}",
            "local_endpoint_path": f"{LE}/le" if side == "a" else f"{LE}/le-{i}",
            "peer_address": peer,
            # With certificates B's derived ID is its first address (the first SAN).
            "peer_id": peer if not cert or side == "b" else b_addr(0),
            "connection_initiation_mode": "INITIATOR" if side == "a" else "RESPOND_ONLY",
            "tunnel_interfaces": [{"ip_subnets": [{
                "ip_addresses": [f"169.254.{i // 64}.{(i % 64) * 4 + (1 if side == 'a' else 2)}"],
                "prefix_length": 30}]}],
        }
        if cert:
            body["authentication_mode"] = "CERTIFICATE"
        else:
            body["psk"] = PSK
        gw.api("PATCH", f"{SVC}/sessions/s{i}", body)


def wait_count(gw, want, secs, what):
    deadline = time.time() + secs
    while True:
        n = gw.established()
        if n == want:
            return
        if time.time() > deadline:
            raise RuntimeError(f"timed out after {secs} s waiting for {what} ({n} established)")
        time.sleep(0.05)


def bench_mode(args, mode, tmp):
    link = Link(args.sessions)
    gws = []
    try:
        a = Straitd(args.straitd, link.a)
        gws.append(a)
        b = Straitd(args.straitd, link.b)
        gws.append(b)
        pki = make_pki(tmp, mode, args.sessions) if mode != "psk" else None
        configure(b, "b", mode, pki, args.sessions, True)
        configure(a, "a", mode, pki, args.sessions, False)
        times = []
        for r in range(args.rounds):
            t0 = time.monotonic()
            a.api("PATCH", SVC, {"enabled": True})
            wait_count(a, args.sessions, 120, f"{args.sessions} sessions UP ({mode})")
            dt = time.monotonic() - t0
            times.append(dt)
            log(f"{mode} round {r + 1}: {args.sessions} setups in {dt:.2f} s = {args.sessions / dt:.0f}/s")
            a.api("PATCH", SVC, {"enabled": False})
            wait_count(a, 0, 60, "every session down")
            wait_count(b, 0, 60, "every session down on B")
        med = statistics.median(times)
        return {"mode": mode, "sessions": args.sessions, "times": times, "median_s": med,
                "setups_per_s": args.sessions / med}
    finally:
        for g in gws:
            g.close()
        link.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--straitd", required=True)
    p.add_argument("--sessions", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--modes", default=",".join(MODES))
    args = p.parse_args()
    if not 1 <= args.sessions <= 200:
        sys.exit("--sessions must be 1..200 (B's addresses are 198.51.100.10 and up)")
    tmp = tempfile.mkdtemp(prefix="bench-ike-setup-pki-")
    try:
        results = [bench_mode(args, m, tmp) for m in args.modes.split(",")]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"| authentication | sessions | rounds (s) | median (s) | setups/s |")
    print("|---|---|---|---|---|")
    for r in results:
        rounds = " / ".join(f"{t:.2f}" for t in r["times"])
        print(f"| {r['mode']} | {r['sessions']} | {rounds} | {r['median_s']:.2f} | {r['setups_per_s']:.0f} |")


if __name__ == "__main__":
    main()
