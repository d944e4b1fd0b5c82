#!/usr/bin/env python3
"""Writes the seeds of the fuzz targets that start from real inputs but whose input format
is target-specific (so the captures cannot be copied as they are):

- ike_crypto: the KE data, SK payloads and ICVs of the strongSwan reference captures in
  testdata/strongswan-captures (scenarios a-e), framed as fuzz_targets/ike_crypto.rs reads
  them, with the real keys from each scenario's keys.json (so decryption and ICV checks
  succeed on the seeds and the fuzzer starts on the success paths);
- mss: TCP SYNs and SYN-ACKs with MSS and other options over IPv4 and IPv6, in both of
  fuzz_targets/mss.rs's modes;
- pki: the scenario d certificates as PEM (one, a chain, with a key) plus the PEM files in
  seeds/pki that this script does not write (made once with openssl, see docs/fuzzing.md).

Deterministic: run it again and `git status` shows no change. Usage: fuzz/make_seeds.py
"""

import hashlib
import json
import os
import struct
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
REPO = FUZZ.parent
CAPTURES = REPO / "testdata" / "strongswan-captures"

# The tables of fuzz_targets/ike_crypto.rs (DhGroup::ALL and Integrity::ALL order).
DH_ALL = [2, 5, 14, 15, 16, 19, 20, 21, 31]
INTEG_ALL = ["AUTH_HMAC_SHA1_96", "AUTH_HMAC_SHA2_256_128", "AUTH_HMAC_SHA2_384_192", "AUTH_HMAC_SHA2_512_256"]
ICV_LEN = {"AUTH_HMAC_SHA1_96": 12, "AUTH_HMAC_SHA2_256_128": 16, "AUTH_HMAC_SHA2_384_192": 24, "AUTH_HMAC_SHA2_512_256": 32}


def write(target, name, data):
    d = FUZZ / "seeds" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def udp_payloads(pcap):
    """(src port, dst port, UDP payload) of every IPv4/UDP frame of an Ethernet pcap."""
    raw = pcap.read_bytes()
    off = 24
    while off + 16 <= len(raw):
        _, _, incl, _ = struct.unpack("<IIII", raw[off:off + 16])
        frame = raw[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            continue
        udp = ip[ihl:]
        sport, dport, length = struct.unpack(">HHH", udp[:6])
        yield sport, dport, udp[8:length]


def ike_messages(pcap):
    for sport, dport, data in udp_payloads(pcap):
        if sport == 500 or dport == 500:
            yield data
        elif data[:4] == b"\0\0\0\0":
            yield data[4:]


def payloads(msg):
    """(type, body) of the outer payload chain."""
    nxt = msg[16]
    off = 28
    while nxt != 0 and off + 4 <= len(msg):
        length = struct.unpack(">H", msg[off + 2:off + 4])[0]
        yield nxt, msg[off:off + length]
        nxt = msg[off]
        if length < 4:
            return
        off += length


def selector(mod3, index, modulus, high=False):
    for s in range(256):
        if s % 3 == mod3 and (s // 3) % modulus == index and bool(s & 0x80) == high:
            return s
    raise ValueError("no selector")


def ike_crypto():
    for scen in sorted(os.listdir(CAPTURES)):
        sdir = CAPTURES / scen
        if not (sdir / "capture.pcap").exists():
            continue
        keys = {k["spi_i"]: k for k in json.loads((sdir / "keys.json").read_text())["ike_sas"]}
        n = 0
        for msg in ike_messages(sdir / "capture.pcap"):
            if len(msg) < 28:
                continue
            spi_i = msg[:8].hex()
            initiator = msg[19] & 0x08 != 0
            for ptype, body in payloads(msg):
                if ptype == 34:  # KE: a peer's public value for DhPrivate::agree
                    group = struct.unpack(">H", body[4:6])[0]
                    if group in DH_ALL:
                        write("ike_crypto", f"{scen}-ke-{group}-{n}", bytes([3 * DH_ALL.index(group)]) + body[8:])
                        n += 1
                if ptype == 46 and spi_i in keys and n < 40:  # SK
                    k = keys[spi_i]
                    alg = k["algorithms"]
                    ek = bytes.fromhex(k["SK_ei"] if initiator else k["SK_er"])
                    data = body[4:]
                    sk_start = len(msg) - len(body)
                    bits = alg["encr_keylen_bits"]
                    bits_index = {128: 0, 192: 1, 256: 2}[bits]
                    if alg["encr"] == "ENCR_AES_GCM_16":
                        # AAD: the header and the SK payload header (RFC 5282 §5.1).
                        aad = msg[:sk_start + 4]
                        seed = bytes([selector(1, bits_index, 4, True)]) + ek + data[:8] + bytes([len(aad)]) + aad + data[8:]
                        if len(aad) < 64:
                            write("ike_crypto", f"{scen}-gcm-{n}", seed)
                    else:
                        icv = ICV_LEN[alg["integ"]]
                        seed = bytes([selector(1, bits_index, 4)]) + ek + data[:16] + b"\0" + data[16:-icv]
                        write("ike_crypto", f"{scen}-cbc-{n}", seed)
                        ak = bytes.fromhex(k["SK_ai"] if initiator else k["SK_ar"])
                        isel = selector(2, INTEG_ALL.index(alg["integ"]), len(INTEG_ALL))
                        write("ike_crypto", f"{scen}-icv-{n}", bytes([isel]) + ak + msg[-icv:] + msg[:-icv])
                    n += 1


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f">{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp(src, dst, flags, options, pseudo):
    pad = (4 - len(options) % 4) % 4
    options += b"\x01" * pad
    hl = 20 + len(options)
    seg = struct.pack(">HHIIBBHHH", 40000, 443, 0x01020304, 0, (hl // 4) << 4, flags, 64240, 0, 0) + options
    c = csum(pseudo(len(seg)) + seg)
    return seg[:16] + struct.pack(">H", c) + seg[18:]


def ipv4(payload_fn):
    src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    seg = payload_fn(lambda n: src + dst + struct.pack(">BBH", 0, 6, n))
    hdr = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(seg), 0, 0x4000, 64, 6, 0) + src + dst
    hdr = hdr[:10] + struct.pack(">H", csum(hdr)) + hdr[12:]
    return hdr + seg


def ipv6(payload_fn, ext=b""):
    src = bytes.fromhex("20010db8000000000000000000000001")
    dst = bytes.fromhex("20010db8000000000000000000000002")
    seg = payload_fn(lambda n: src + dst + struct.pack(">IxxxB", n, 6))
    nh = 60 if ext else 6
    return struct.pack(">IHBB", 0x60000000, len(ext) + len(seg), nh, 64) + src + dst + ext + seg


MSS = lambda v: b"\x02\x04" + struct.pack(">H", v)
OPTION_SETS = [
    MSS(1460),
    MSS(1460) + b"\x04\x02\x08\x0a" + bytes(8) + b"\x01\x03\x03\x07",  # Linux SYN
    b"\x01" + MSS(8960) + b"\x01\x01\x04\x02",
    MSS(536) + b"\x03\x03\x07" + b"\x00",
    b"\x08\x0a" + bytes(8) + MSS(1380),
]


def mss():
    max_values = [1360, 1400, 0, 0xFFFF]
    n = 0
    for i, opts in enumerate(OPTION_SETS):
        for flags in (0x02, 0x12):
            mx = struct.pack(">H", max_values[(i + flags) % len(max_values)])
            # Raw mode: whole packets, mode byte picks the direction (& 3) and outbound (& 4).
            v4 = ipv4(lambda p: tcp(0, 0, flags, opts, p))
            v6 = ipv6(lambda p: tcp(0, 0, flags, opts, p))
            v6ext = ipv6(lambda p: tcp(0, 0, flags, opts, p), ext=b"\x06\x00\x01\x04\x00\x00\x00\x00")
            for pkt in (v4, v6, v6ext):
                write("mss", f"raw-{n:02}", bytes([n % 8]) + mx + pkt)
                n += 1
            # Template mode (bit 7): control byte (bit 0 IPv6, bits 1-2 extension size), flags, ext, options.
            for ctl, ext in ((0, b""), (1, b""), (3, bytes(8))):
                write("mss", f"syn-{n:02}", bytes([0x80]) + mx + bytes([ctl, flags]) + ext + opts)
                n += 1


def pki():
    pki_dir = CAPTURES / "d" / "config" / "pki"
    ca = (pki_dir / "ca.crt").read_text()
    right = (pki_dir / "right.crt").read_text()
    write("pki", "ca.pem", ca.encode())
    write("pki", "right.pem", right.encode())
    write("pki", "chain.pem", (right + ca).encode())
    write("pki", "right-with-key.pem", (right + (pki_dir / "right.key").read_text()).encode())
    write("pki", "dn-1", b"CN=right, O=strongSwan interop, C=CH")
    write("pki", "dn-2", b"C=US,ST=CA,O=Example\\, Inc.,OU=VPN+CN=gw1.example.com,emailAddress=ops@example.com")
    write("pki", "dn-3", b"cn=\"a=b\", o=#04024869, dc=example, dc=com")


if __name__ == "__main__":
    ike_crypto()
    mss()
    pki()
    for t in ("ike_crypto", "mss", "pki"):
        files = list((FUZZ / "seeds" / t).iterdir())
        print(f"{t}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")
