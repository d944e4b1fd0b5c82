#!/usr/bin/env bash
# Debian packages strait's build and tests need, installed only when missing.
# (The Rust toolchain itself comes with the machine.)
set -euo pipefail
packages=(
    gcc make pkg-config iproute2 ca-certificates
    curl                           # scripts/demo.sh drives the REST API with it
    # interop tests (crates/strait/tests/common/netns.rs): strongSwan as the IKEv2 peer, with
    # userspace ESP because the kernel has no XFRM/ESP data plane
    strongswan-charon              # /usr/lib/ipsec/charon
    strongswan-swanctl             # swanctl and the vici plugin
    libcharon-extra-plugins        # kernel-libipsec (userspace ESP over the TUN ipsec0)
    libstrongswan-standard-plugins # openssl (AES-GCM with AES-NI, MODP/ECP/X25519)
    iputils-ping                   # ping through the tunnels
    tcpdump                        # captures on the veths (nothing leaves in plaintext)
    iperf3                         # traffic during rekeys (no-loss checks)
    tshark                         # decodes IKE/ESP captures when an interop test fails
    bird2                          # BGP over the VTIs: straitd runs and configures BIRD 2
    frr                            # an independent BGP speaker as the peer site in BGP tests
    chromium                       # the web console's browser tests (console-tests/, headless)
    fonts-dejavu-core              # legible text in the console's screenshots
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    # tshark (wireshark-common) asks whether non-root users may capture: answer no, unasked
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" < /dev/null
fi
