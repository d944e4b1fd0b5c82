#!/usr/bin/env python3
"""Scale benchmark (issue 11): what each route-based session's VTI costs in memory.

One straitd in a network namespace with one local endpoint (198.51.100.1 on a veth whose
other end is idle in the same namespace) and N route-based sessions to peers that never answer
(203.0.113.x, on-link over that veth), so only the VTIs and IKE retries exist. For each N it reports, per VTI:

  kernel     growth of SUnreclaim (/proc/meminfo: unreclaimable slab plus large kmallocs),
  rss        growth of straitd's resident set,
  total      the two together (what the issue's test bounds: under 2 MB per VTI),
  create     wall time from the first PATCH until every VTI exists,

then deletes every session and reports what did not come back. SUnreclaim is system-wide:
run it on an otherwise quiet machine and read small per-VTI figures as +-0.1 MB.

  sudo scripts/bench-vti-memory.sh [--sessions 10,50,150] [--workers N] [--markdown FILE]

Every address lives inside the namespace this script creates (198.51.100.0/24 outside,
203.0.113.0/24 for the silent peers, 169.254.0.0/16 inside the tunnels); it is removed at the
end.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

LOCAL = "198.51.100.1"
SVC = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn"
ADMIN_PASSWORD = "bench-admin-" + secrets.token_hex(8)
PSK = "bench-psk-" + secrets.token_hex(8)
PORT = 18444


def run(*args, check=True, input=None):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, input=input)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr or r.stdout}")
    return r.stdout


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])  # kB
    return out


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def settle():
    """Let RCU-freed objects and per-CPU caches go back before a reading."""
    time.sleep(1.5)


class Gateway:
    def __init__(self, straitd, workers):
        self.ns = "vtimem-" + secrets.token_hex(3)
        run("ip", "netns", "add", self.ns)
        self.dir = tempfile.mkdtemp(prefix="vtimem-")
        self.proc = None
        try:
            self.ip("link", "set", "lo", "up")
            # A veth pair inside the namespace: the peers' addresses are on-link over out0 and
            # nobody answers ARP for them, so IKE requests vanish without an error.
            self.ip("link", "add", "out0", "type", "veth", "peer", "out1")
            self.ip("addr", "add", f"{LOCAL}/24", "dev", "out0")
            self.ip("link", "set", "out0", "up")
            self.ip("link", "set", "out1", "up")
            self.ip("route", "add", "203.0.113.0/24", "dev", "out0")
            env = dict(os.environ, STRAIT_ADMIN_PASSWORD=ADMIN_PASSWORD, STRAIT_LOG="warn")
            args = ["ip", "netns", "exec", self.ns, straitd, "--data-dir", self.dir,
                    "--listen", f"127.0.0.1:{PORT}"]
            if workers:
                args += ["--dataplane-workers", str(workers)]
            self.proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=open(f"{self.dir}/straitd.log", "w"), start_new_session=True)
            deadline = time.time() + 20
            while time.time() < deadline:
                code = run("ip", "netns", "exec", self.ns, "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}",
                           f"https://127.0.0.1:{PORT}/healthz", check=False)
                if code == "200":
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError("straitd did not start")
            # `ip netns exec` execs straitd, so the PID is straitd's.
            self.pid = self.proc.pid
            self.api("PATCH", "/policy/api/v1/infra/tier-0s/t0", {})
            self.api("PATCH", SVC, {})
            self.api("PATCH", f"{SVC}/local-endpoints/le", {"local_address": LOCAL})
        except Exception:
            self.close()
            raise

    def ip(self, *args):
        return run("ip", "-n", self.ns, *args)

    def api(self, method, path, body=None):
        args = ["ip", "netns", "exec", self.ns, "curl", "-sk", "-u", f"admin:{ADMIN_PASSWORD}", "-X", method,
                f"https://127.0.0.1:{PORT}{path}", "-o", "/dev/stdout", "-w", "\n%{http_code}"]
        if body is not None:
            args += ["-H", "content-type: application/json", "-d", json.dumps(body)]
        out = run(*args)
        text, _, code = out.rpartition("\n")
        if not code.startswith("2"):
            raise RuntimeError(f"{method} {path}: {code} {text}")
        return json.loads(text) if text.strip() else None

    def session(self, i, start):
        k = start + i
        peer = f"203.0.113.{k + 1}"
        vti = f"169.254.{k // 64}.{(k % 64) * 4 + 1}"
        self.api("PATCH", f"{SVC}/sessions/m{k}", {
            "resource_type": "RouteBasedIPSecVpnSession",
            "local_endpoint_path": "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le",
            "peer_address": peer, "peer_id": peer, "psk": PSK,
            "connection_initiation_mode": "INITIATOR",
            "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti], "prefix_length": 30}]}],
        })

    def vtis(self):
        return sum(1 for line in self.ip("-o", "link", "show", "type", "tun").splitlines() if ": st" in line)

    def wait_vtis(self, n, secs):
        deadline = time.time() + secs
        while time.time() < deadline:
            if self.vtis() == n:
                return
            time.sleep(0.1)
        raise RuntimeError(f"expected {n} VTIs, have {self.vtis()}")

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
        run("ip", "netns", "del", self.ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(straitd, n, workers):
    g = Gateway(straitd, workers)
    try:
        settle()
        m0, r0 = meminfo(), rss_kb(g.pid)
        t = time.time()
        for i in range(n):
            g.session(i, 0)
        g.wait_vtis(n, 60 + n)
        created = time.time() - t
        settle()
        m1, r1 = meminfo(), rss_kb(g.pid)
        for i in range(n):
            g.api("DELETE", f"{SVC}/sessions/m{i}")
        g.wait_vtis(0, 60 + n)
        settle()
        m2, r2 = meminfo(), rss_kb(g.pid)
        return {
            "n": n,
            "kernel_kb": m1["SUnreclaim"] - m0["SUnreclaim"],
            "rss_kb": r1 - r0,
            "create_s": created,
            "left_kernel_kb": m2["SUnreclaim"] - m0["SUnreclaim"],
            "left_rss_kb": r2 - r0,
            "other": {k: m1[k] - m0[k] for k in ("Slab", "SReclaimable", "KernelStack", "PageTables", "VmallocUsed", "Percpu") if k in m1},
        }
    finally:
        g.close()


def mb(kb):
    return kb / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--straitd", required=True)
    ap.add_argument("--sessions", default="10,50,150", help="comma-separated session counts, one gateway each")
    ap.add_argument("--workers", type=int, default=0, help="--dataplane-workers (default: straitd's, one per core)")
    ap.add_argument("--max-kernel-mb", type=int, default=4096,
                    help="refuse counts whose projected kernel memory (from the first count) exceeds this")
    ap.add_argument("--markdown", help="write the result table here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (network namespaces, TUN devices)")
    counts = [int(x) for x in args.sessions.split(",") if x]
    rows = []
    per_vti_mb = None
    for n in counts:
        if per_vti_mb is not None and per_vti_mb * n > args.max_kernel_mb:
            print(f"skip {n} sessions: ~{per_vti_mb * n:.0f} MB projected (> --max-kernel-mb {args.max_kernel_mb})",
                  flush=True)
            rows.append({"n": n, "skipped": per_vti_mb * n})
            continue
        r = measure(args.straitd, n, args.workers)
        per_vti_mb = max(per_vti_mb or 0, mb(r["kernel_kb"]) / n)
        rows.append(r)
        print(f"{n} sessions: kernel +{mb(r['kernel_kb']):.1f} MB ({mb(r['kernel_kb']) / n:.2f} MB/VTI), "
              f"straitd RSS +{mb(r['rss_kb']):.1f} MB ({mb(r['rss_kb']) / n:.3f} MB/VTI), "
              f"created in {r['create_s']:.1f} s; after deleting them: kernel {mb(r['left_kernel_kb']):+.1f} MB, "
              f"RSS {mb(r['left_rss_kb']):+.1f} MB; other meminfo deltas (kB): {r['other']}", flush=True)
    lines = [
        "| sessions | kernel (SUnreclaim) MB | per VTI MB | straitd RSS MB | per VTI MB | kernel + RSS per VTI MB | "
        "create all s | left after delete: kernel MB | RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['n']} | not run (~{r['skipped']:.0f} MB projected) | | | | | | | |")
            continue
        n = r["n"]
        lines.append(
            f"| {n} | {mb(r['kernel_kb']):.1f} | {mb(r['kernel_kb']) / n:.2f} | {mb(r['rss_kb']):.1f} | "
            f"{mb(r['rss_kb']) / n:.3f} | {mb(r['kernel_kb'] + r['rss_kb']) / n:.2f} | {r['create_s']:.1f} | "
            f"{mb(r['left_kernel_kb']):+.1f} | {mb(r['left_rss_kb']):+.1f} |")
    table = "\n".join(lines)
    print()
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
