#!/usr/bin/env python3
"""Tunnel throughput benchmark (issue 4): iperf3 TCP through one tunnel between two network
namespaces, side by side in one run, for

  veth         the bare link (no tunnel), the ceiling
  strongswan   strongSwan <-> strongSwan, kernel-libipsec (userspace ESP in UDP 4500)
  boringtun    boringtun-cli <-> boringtun-cli (userspace WireGuard in Rust)
  strait       straitd <-> straitd, UDP-encapsulated ESP (the default)
  strait-esp   straitd <-> straitd, plain ESP (IP protocol 50)

with 1 and 4 streams, `--runs` interleaved rounds (median reported), and the tunnel daemons'
CPU time per Gbit/s. Every address lives inside namespaces this script creates
(198.51.100.0/24 outside, 169.254.0.0/16 inside); it removes them at the end.

Run through scripts/bench-tunnels.sh (installs what it needs, builds straitd in release).
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

OUTER_A, OUTER_B = "198.51.100.1", "198.51.100.2"
HZ = os.sysconf("SC_CLK_TCK")
PSK = "bench-psk-" + secrets.token_hex(8)
ADMIN_PASSWORD = "bench-admin-" + secrets.token_hex(8)


def run(*args, check=True, capture=True, timeout=None, env=None):
    r = subprocess.run(
        list(args),
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr or r.stdout}")
    return r.stdout if capture else ""


def nsx(ns, *args, **kw):
    return run("ip", "netns", "exec", ns, *args, **kw)


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime, stime, cutime, cstime (fields 14-17; after the comm they are 11-14)
        return sum(int(x) for x in fields[11:15])
    except (OSError, IndexError, ValueError):
        return 0


def tree_pids(pid):
    """pid and its descendants (charon's threads are in-process; boringtun is one process)."""
    out = [pid]
    try:
        children = run("pgrep", "-P", str(pid), check=False).split()
        for c in children:
            out += tree_pids(int(c))
    except Exception:
        pass
    return out


def udp_rcvbuf_errors(ns):
    text = nsx(ns, "cat", "/proc/net/snmp")
    lines = [l.split() for l in text.splitlines() if l.startswith("Udp:")]
    if len(lines) >= 2:
        head, vals = lines[0], lines[1]
        return int(vals[head.index("RcvbufErrors")])
    return 0


class Pair:
    """Two namespaces joined by a veth (198.51.100.1/24 <-> .2/24)."""

    def __init__(self, label):
        tag = secrets.token_hex(3)
        self.a = f"stb-{label[:4]}-a-{tag}"
        self.b = f"stb-{label[:4]}-b-{tag}"
        run("ip", "netns", "add", self.a)
        run("ip", "netns", "add", self.b)
        for ns in (self.a, self.b):
            nsx(ns, "ip", "link", "set", "lo", "up")
        run("ip", "link", "add", "veth-a", "netns", self.a, "type", "veth", "peer", "veth-b", "netns", self.b)
        nsx(self.a, "ip", "addr", "add", f"{OUTER_A}/24", "dev", "veth-a")
        nsx(self.b, "ip", "addr", "add", f"{OUTER_B}/24", "dev", "veth-b")
        nsx(self.a, "ip", "link", "set", "veth-a", "up")
        nsx(self.b, "ip", "link", "set", "veth-b", "up")
        self.procs = []

    def spawn(self, ns, args, **kw):
        p = subprocess.Popen(["ip", "netns", "exec", ns] + args, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        for ns in (self.a, self.b):
            # Anything still running in the namespace (it was started by us).
            for pid in run("ip", "netns", "pids", ns, check=False).split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            run("ip", "netns", "del", ns, check=False)


class Veth:
    name = "veth"

    def setup(self, pair, tools):
        self.server_addr = OUTER_B
        self.pids = []


class StrongSwan:
    name = "strongswan"

    def setup(self, pair, tools):
        self.dirs = []
        self.pids = []
        for ns, local, remote, tun in ((pair.a, OUTER_A, OUTER_B, "169.254.20.1/30"), (pair.b, OUTER_B, OUTER_A, "169.254.20.2/30")):
            d = tempfile.mkdtemp(prefix="stb-swan-")
            self.dirs.append(d)
            with open(f"{d}/strongswan.conf", "w") as f:
                f.write(f"""charon {{
    load_modular = no
    load = openssl random nonce sha1 sha2 hmac kdf pem pkcs1 pkcs8 x509 pubkey kernel-libipsec kernel-netlink socket-default vici
    routing_table = 221
    routing_table_prio = 40000
    plugins {{
        vici {{
            socket = unix://{d}/charon.vici
        }}
    }}
    filelog {{
        main {{
            path = {d}/charon.log
            default = 0
        }}
    }}
}}
swanctl {{
    socket = unix://{d}/charon.vici
}}
""")
            with open(f"{d}/swanctl.conf", "w") as f:
                f.write(f"""connections {{
    rb {{
        version = 2
        local_addrs = {local}
        remote_addrs = {remote}
        proposals = aes128-sha256-modp2048
        encap = yes
        mobike = no
        local {{
            auth = psk
            id = {local}
        }}
        remote {{
            auth = psk
            id = {remote}
        }}
        children {{
            rb {{
                local_ts = 0.0.0.0/0
                remote_ts = 0.0.0.0/0
                esp_proposals = aes128gcm16-modp2048
                replay_window = 1024
                start_action = none
            }}
        }}
    }}
}}
secrets {{
    ike-rb {{
        id-1 = {local}
        id-2 = {remote}
        secret = "{PSK}"
    }}
}}
""")
            env = dict(os.environ, STRONGSWAN_CONF=f"{d}/strongswan.conf")
            os.mkdir(f"{d}/run")
            # `ip netns exec` gives the command a private mount namespace: a /run of its own
            # keeps the two charons' compiled-in /run/charon.pid apart. sh execs charon, so
            # the PID is charon's.
            p = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", 'mount --bind "$0/run" /run && exec /usr/lib/ipsec/charon', d],
                                 env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            pair.procs.append(p)
            self.pids.append(p.pid)
            wait_for(lambda: os.path.exists(f"{d}/charon.vici") and "ipsec0" in nsx(ns, "ip", "link", check=False), 15, "charon")
            nsx(ns, "ip", "link", "set", "ipsec0", "mtu", "1400", "up")
            nsx(ns, "ip", "addr", "add", tun, "dev", "ipsec0")
            nsx(ns, "swanctl", "--load-all", "--file", f"{d}/swanctl.conf", env=env)
        self.env_a = dict(os.environ, STRONGSWAN_CONF=f"{self.dirs[0]}/strongswan.conf")
        nsx(pair.a, "swanctl", "--initiate", "--child", "rb", "--timeout", "20", env=self.env_a)
        self.server_addr = "169.254.20.2"

    def cleanup(self):
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


class Boringtun:
    name = "boringtun"

    def setup(self, pair, tools):
        self.dir = tempfile.mkdtemp(prefix="stb-wg-")
        bt = tools["boringtun"]
        keys = []
        for _ in range(2):
            priv = run("wg", "genkey").strip()
            pub = subprocess.run(["wg", "pubkey"], input=priv, text=True, capture_output=True, check=True).stdout.strip()
            keys.append((priv, pub))
        self.pids = []
        for i, (ns, ifname, tun, remote) in enumerate(((pair.a, "stbwga", "169.254.30.1/30", OUTER_B), (pair.b, "stbwgb", "169.254.30.2/30", OUTER_A))):
            env = dict(os.environ, WG_SUDO="1")
            p = subprocess.Popen(["ip", "netns", "exec", ns, bt, ifname, "--foreground", "--disable-drop-privileges"], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            pair.procs.append(p)
            self.pids.append(p.pid)
            wait_for(lambda: os.path.exists(f"/var/run/wireguard/{ifname}.sock"), 10, "boringtun")
            key = f"{self.dir}/key{i}"
            with open(key, "w") as f:
                f.write(keys[i][0])
            os.chmod(key, 0o600)
            peer_pub = keys[1 - i][1]
            nsx(ns, "wg", "set", ifname, "private-key", key, "listen-port", "51820", "peer", peer_pub,
                "allowed-ips", "0.0.0.0/0", "endpoint", f"{remote}:51820")
            nsx(ns, "ip", "addr", "add", tun, "dev", ifname)
            nsx(ns, "ip", "link", "set", ifname, "mtu", "1420", "up")
        self.server_addr = "169.254.30.2"

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Strait:
    def __init__(self, udp_encapsulation=True):
        self.udp = udp_encapsulation
        self.name = "strait" if udp_encapsulation else "strait-esp"

    def api(self, ns, method, path, body=None):
        args = ["curl", "-sk", "-u", f"admin:{ADMIN_PASSWORD}", "-X", method, f"https://127.0.0.1:18443{path}",
                "-o", "/dev/stdout", "-w", "\n%{http_code}"]
        if body is not None:
            args += ["-H", "content-type: application/json", "-d", json.dumps(body)]
        out = nsx(ns, *args)
        text, _, code = out.rpartition("\n")
        if not code.startswith("2"):
            raise RuntimeError(f"{method} {path}: {code} {text}")
        return json.loads(text) if text.strip() else None

    def setup(self, pair, tools):
        self.pids = []
        self.dirs = []
        svc = "/policy/api/v1/infra/tier-0s/t0/ipsec-vpn-services/vpn"
        self.session = f"{svc}/sessions/bench"
        for ns, local, remote, vti, init in ((pair.b, OUTER_B, OUTER_A, "169.254.40.2", False), (pair.a, OUTER_A, OUTER_B, "169.254.40.1", True)):
            d = tempfile.mkdtemp(prefix="stb-strait-")
            self.dirs.append(d)
            env = dict(os.environ, STRAIT_ADMIN_PASSWORD=ADMIN_PASSWORD, STRAIT_LOG="warn")
            p = subprocess.Popen(["ip", "netns", "exec", ns, tools["straitd"], "--data-dir", d, "--listen", "127.0.0.1:18443"],
                                 env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=open(f"{d}/straitd.log", "w"), start_new_session=True)
            pair.procs.append(p)
            self.pids.append(p.pid)
            wait_for(lambda: "200" in nsx(ns, "curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:18443/healthz", check=False), 15, "straitd")
            self.api(ns, "PATCH", "/policy/api/v1/infra/tier-0s/t0", {})
            self.api(ns, "PATCH", svc, {})
            self.api(ns, "PATCH", f"{svc}/local-endpoints/le", {"local_address": local})
            self.api(ns, "PATCH", self.session, {
                "resource_type": "RouteBasedIPSecVpnSession",
                "local_endpoint_path": "/infra/tier-0s/t0/ipsec-vpn-services/vpn/local-endpoints/le",
                "peer_address": remote, "peer_id": remote, "psk": PSK,
                "connection_initiation_mode": "INITIATOR" if init else "RESPOND_ONLY",
                "udp_encapsulation": self.udp,
                "tunnel_interfaces": [{"ip_subnets": [{"ip_addresses": [vti], "prefix_length": 30}]}],
            })
        self.ns = (pair.a, pair.b)
        wait_for(lambda: self.up(pair.a) and self.up(pair.b), 30, "strait session UP")
        self.server_addr = "169.254.40.2"

    def up(self, ns):
        st = self.api(ns, "GET", f"{self.session}/detailed-status")["results"][0]
        return st["runtime_status"] == "UP"

    def drops(self):
        total = 0
        for ns in self.ns:
            t = self.api(ns, "GET", f"{self.session}/statistics")["results"][0]["policy_statistics"][0]["tunnel_statistics"][0]
            total += t["dropped_packets_in"] + t["dropped_packets_out"]
        return total

    def cleanup(self):
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def wait_for(pred, secs, what):
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


def measure(sc, pair, streams, secs):
    srv = subprocess.Popen(["ip", "netns", "exec", pair.b, "iperf3", "-s", "-1", "-B", sc.server_addr],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.5)
    pids = [p for pid in sc.pids for p in tree_pids(pid)]
    t0 = sum(cpu_ticks(p) for p in pids)
    drops0 = sc.drops() if hasattr(sc, "drops") else 0
    rcv0 = udp_rcvbuf_errors(pair.a) + udp_rcvbuf_errors(pair.b)
    start = time.time()
    out = nsx(pair.a, "iperf3", "-c", sc.server_addr, "-t", str(secs), "-P", str(streams), "-J", check=False, timeout=secs + 30)
    wall = time.time() - start
    t1 = sum(cpu_ticks(p) for p in pids)
    rcv1 = udp_rcvbuf_errors(pair.a) + udp_rcvbuf_errors(pair.b)
    drops1 = sc.drops() if hasattr(sc, "drops") else 0
    try:
        srv.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(srv.pid, signal.SIGKILL)
    try:
        end = json.loads(out)["end"]
        gbps = end["sum_received"]["bits_per_second"] / 1e9
        retr = end["sum_sent"].get("retransmits", 0)
    except Exception:
        return {"gbps": 0.0, "retr": 0, "cpu": 0.0, "loss": 0, "error": out[-300:]}
    cores = (t1 - t0) / HZ / wall
    return {"gbps": gbps, "retr": retr, "cpu": cores, "loss": (rcv1 - rcv0) + (drops1 - drops0)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--straitd", required=True)
    ap.add_argument("--boringtun", required=True)
    ap.add_argument("--time", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--only", default="veth,strongswan,boringtun,strait,strait-esp")
    ap.add_argument("--markdown", help="write the result table here")
    args = ap.parse_args()
    tools = {"straitd": args.straitd, "boringtun": args.boringtun}
    wanted = args.only.split(",")
    scenarios = [s for s in (Veth(), StrongSwan(), Boringtun(), Strait(True), Strait(False)) if s.name in wanted]
    pairs = {}
    results = {(s.name, n): [] for s in scenarios for n in (1, 4)}
    try:
        for sc in scenarios:
            pair = Pair(sc.name)
            pairs[sc.name] = pair
            sc.pids = []
            sc.setup(pair, tools)
            print(f"set up {sc.name}", flush=True)
        for r in range(args.runs):
            for sc in scenarios:
                for streams in (1, 4):
                    m = measure(sc, pairs[sc.name], streams, args.time)
                    results[(sc.name, streams)].append(m)
                    print(f"round {r + 1} {sc.name:<11} {streams} stream(s): {m['gbps']:.2f} Gbit/s, "
                          f"{m['cpu']:.2f} cores, retransmits {m['retr']}, lost {m['loss']}"
                          + (f" ERROR {m['error']}" if 'error' in m else ""), flush=True)
    finally:
        for sc in scenarios:
            try:
                if hasattr(sc, "cleanup"):
                    sc.cleanup()
            except Exception as e:
                print(f"cleanup of {sc.name}: {e}", file=sys.stderr)
        for p in pairs.values():
            p.close()

    def med(name, n, key):
        vals = [m[key] for m in results[(name, n)]]
        return statistics.median(vals) if vals else 0.0

    base = {n: med("strongswan", n, "gbps") for n in (1, 4)} if "strongswan" in wanted else {1: 0, 4: 0}
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = [
        f"Machine: {os.cpu_count()} vCPUs ({cpu_model}), kernel {os.uname().release}; "
        f"iperf3 TCP {args.time} s, median of {args.runs} interleaved rounds; both tunnel ends and iperf3 share the CPUs.",
        "",
        "| tunnel | 1 stream Gbit/s | x strongSwan | 4 streams Gbit/s | x strongSwan | daemon CPU (cores) 1 stream | cores per Gbit/s | retransmits (1 stream) | packets lost in the tunnel |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for sc in scenarios:
        g1, g4 = med(sc.name, 1, "gbps"), med(sc.name, 4, "gbps")
        cpu = med(sc.name, 1, "cpu")
        lost = sum(m["loss"] for n in (1, 4) for m in results[(sc.name, n)])
        ratio = lambda g, n: f"{g / base[n]:.1f}" if base[n] else "-"
        per = f"{cpu / g1:.2f}" if g1 and sc.name != "veth" else "-"
        lines.append(f"| {sc.name} | {g1:.2f} | {ratio(g1, 1)} | {g4:.2f} | {ratio(g4, 4)} | "
                     f"{cpu:.2f} | {per} | {int(med(sc.name, 1, 'retr'))} | {lost} |")
    table = "\n".join(lines)
    print()
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    sys.exit(main())
