#!/usr/bin/env python3
"""Writes fuzz/seeds/ike_established: small programs in the input format of
fuzz_targets/ike_established.rs (byte 0 the setup, two bytes of seed, then operations), one
per kind of post-authentication exchange, so the fuzzer starts from inputs that reach each
handler with a valid message: rekeys and liveness checks between the two real endpoints,
and sealed CREATE_CHILD_SA / INFORMATIONAL requests naming real SPIs. Deterministic.
Usage: fuzz/make_established_seeds.py
"""
from pathlib import Path

OUT = Path(__file__).resolve().parent / "seeds" / "ike_established"

# Operations (op byte % 16) and their arguments, as the target reads them.
DELIVER_TO_B, DELIVER_TO_A = 0x00, 0x10
DROP_FROM_A, DROP_FROM_B = 0x03, 0x13
DUP_FROM_A, REORDER_FROM_A = 0x04, 0x05
STEP = 0x06          # + 1 byte (x50 ms; op | 0x10: x1 s)
NEXT_TIMER = 0x07
COMMAND = 0x08       # + selector: bit 0 side (0 = A), (sel >> 1) % 9 the command
INJECT = 0x0A        # + to (0 = A, 1 = B), view, exchange, mode, payloads
INJECT_RAW = 0x1D    # + to, view, exchange, mode, first payload type, length, bytes, IV seed
MUTATE = 0x0D        # + to (0 = A), what, its argument(s), IV seed
REPLAY = 0x0E
FLUSH = 0x0F

REKEY_CHILD, REKEY_IKE, LIVENESS, TRAFFIC, DELETE_CHILD, INITIATE, SET_DPD, READD, SHUTDOWN = range(9)
CREATE_CHILD_SA, INFORMATIONAL = 0, 1


def cmd(which, on_b=False, arg=b""):
    return bytes([COMMAND, (which << 1) | int(on_b)]) + arg


def payloads(*ps):
    return bytes([len(ps)]) + b"".join(ps)


SA_ESP = bytes([0]) + bytes([0x11, 0x22, 0x33, 0x44]) + bytes([0])  # spi, with PFS groups
SA_IKE = bytes([1])
NONCE = bytes([2, 0])
KE = bytes([3, 0])
TSI, TSR = bytes([4, 0]), bytes([5, 0])
REKEY_SA = bytes([6, 0, 0])  # REKEY_SA naming the first Child SA's outbound SPI
DELETE_ESP = bytes([8, 0, 0])
DELETE_IKE = bytes([9])


def inject(to_b, exchange, body, mode=0):
    return bytes([INJECT, int(to_b), 0, exchange, mode]) + body + bytes([0])  # IV seed


seeds = {}
for setup in (0x00, 0x01, 0x06, 0x0B, 0x15, 0x20):
    seeds[f"handshake-{setup:02x}"] = bytes([setup, 0, 1])
base = bytes([0x05, 0, 7])  # GCM, X25519, PFS
seeds["rekey-child-a"] = base + cmd(REKEY_CHILD) + bytes([FLUSH])
seeds["rekey-child-b"] = base + cmd(REKEY_CHILD, True) + bytes([FLUSH])
seeds["rekey-ike-a"] = base + cmd(REKEY_IKE) + bytes([FLUSH])
seeds["rekey-ike-collision"] = base + cmd(REKEY_IKE) + cmd(REKEY_IKE, True) + bytes([FLUSH, NEXT_TIMER, FLUSH])
seeds["rekey-child-collision"] = base + cmd(REKEY_CHILD) + cmd(REKEY_CHILD, True) + bytes([FLUSH, NEXT_TIMER, FLUSH])
seeds["liveness-lost"] = bytes([0x0D, 0, 3]) + cmd(LIVENESS) + bytes([DROP_FROM_A] + [NEXT_TIMER, DROP_FROM_A] * 6)
seeds["rekey-lost-answer"] = base + cmd(REKEY_CHILD) + bytes([DELIVER_TO_B, DROP_FROM_B, NEXT_TIMER, FLUSH])
seeds["rekey-reordered"] = base + cmd(REKEY_CHILD) + cmd(LIVENESS, True) + bytes([DUP_FROM_A, REORDER_FROM_A, FLUSH, REPLAY, 0, FLUSH])
seeds["delete-child-a"] = base + cmd(DELETE_CHILD, arg=bytes([0])) + bytes([FLUSH, NEXT_TIMER, FLUSH])
seeds["lifetimes"] = base + bytes([NEXT_TIMER, FLUSH] * 8)
seeds["dpd-periodic"] = bytes([0x08, 0, 9]) + bytes([STEP | 0x10, 30, FLUSH, STEP | 0x10, 30, DROP_FROM_A, NEXT_TIMER, NEXT_TIMER, NEXT_TIMER, NEXT_TIMER])
seeds["readd-session"] = base + cmd(READD, True) + bytes([FLUSH, NEXT_TIMER, FLUSH])
seeds["inject-rekey-child-to-b"] = base + inject(True, CREATE_CHILD_SA, payloads(SA_ESP, NONCE, KE, TSI, TSR, REKEY_SA)) + bytes([FLUSH])
seeds["inject-rekey-child-to-a"] = base + inject(False, CREATE_CHILD_SA, payloads(SA_ESP, NONCE, KE, TSI, TSR, REKEY_SA)) + bytes([FLUSH])
seeds["inject-new-child"] = base + inject(True, CREATE_CHILD_SA, payloads(SA_ESP, NONCE, KE, TSI, TSR)) + bytes([FLUSH])
seeds["inject-rekey-ike"] = base + inject(True, CREATE_CHILD_SA, payloads(SA_IKE, NONCE, KE)) + bytes([FLUSH])
seeds["inject-delete-child"] = base + inject(True, INFORMATIONAL, payloads(DELETE_ESP)) + bytes([FLUSH])
seeds["inject-delete-ike"] = base + inject(False, INFORMATIONAL, payloads(DELETE_IKE)) + bytes([FLUSH])
seeds["inject-liveness"] = base + inject(True, INFORMATIONAL, payloads()) + bytes([FLUSH])
seeds["inject-retransmit"] = base + inject(True, INFORMATIONAL, payloads(), mode=2) + bytes([FLUSH])
# An answer to A's outstanding rekey, sealed by the fuzzer instead of B (mode 1: response).
seeds["inject-answer-to-rekey"] = base + cmd(REKEY_CHILD) + bytes([DROP_FROM_A]) + inject(False, CREATE_CHILD_SA, payloads(SA_ESP, NONCE, KE, TSI, TSR), mode=1) + bytes([FLUSH])
seeds["inject-error-answer"] = base + cmd(REKEY_IKE) + bytes([DROP_FROM_A]) + inject(False, CREATE_CHILD_SA, payloads(bytes([6, 3, 0])), mode=1) + bytes([FLUSH])
seeds["inject-raw"] = base + bytes([INJECT_RAW, 1, 0, 1, 0, 42, 8]) + bytes(8) + bytes([0, FLUSH])
# A's real rekey request to B, re-sealed with a changed byte / a truncated chain / another ID.
for what, arg in ((5, bytes([0, 40, 0x55])), (4, bytes([0, 60])), (0, bytes([129])), (3, bytes([41]))):
    seeds[f"mutate-rekey-{what}"] = base + cmd(REKEY_CHILD) + bytes([MUTATE, 1, what]) + arg + bytes([0, FLUSH, NEXT_TIMER, FLUSH])
seeds["mutate-delete-answer"] = base + cmd(DELETE_CHILD, arg=bytes([0])) + bytes([DELIVER_TO_B, MUTATE, 0, 5, 0, 20, 0xff, 0, FLUSH])

OUT.mkdir(parents=True, exist_ok=True)
for name, data in sorted(seeds.items()):
    (OUT / name).write_bytes(data)
print(f"{len(seeds)} seeds in {OUT}")
