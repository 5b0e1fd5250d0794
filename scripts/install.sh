#!/usr/bin/env bash
# Install what podnet needs on a fresh Debian 12 or Ubuntu 22.04/24.04 machine, as root.
# Idempotent: packages already present are not reinstalled, and the virtual environment is
# only refreshed when requirements.txt or setup.py changed.
#   distribution packages: mininet (mnexec), iproute2, iptables, tcpdump, tshark, iputils-ping,
#                          containernetworking-plugins (/usr/lib/cni), util-linux (nsenter),
#                          curl (talk to Services from inside Pods), librsvg2-bin (podnet graph -f png),
#                          kubernetes-client (kubectl, for the lab's API server) when no kubectl is installed
#   with --with-test-tools also: vagrant (the test suite runs 'vagrant validate' on the Vagrantfile),
#                          chromium and chromium-driver (the page of podnet web is tested in a real browser),
#                          Debian's kubernetes-client (kubectl v1.20) unpacked into .venv/kubernetes-client:
#                          the tests run it against the lab's API server beside any newer /usr/bin/kubectl
#                          (the package cannot be installed where another package owns that path)
#   .venv (with system site packages, so Debian's mininet module is importable):
#                          pinned pyroute2, PyYAML, scapy, aiohttp, Markdown, cryptography, pytest, selenium,
#                          and podnet itself (editable)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$repo/.venv"
packages=(mininet iproute2 iptables tcpdump tshark iputils-ping containernetworking-plugins
          util-linux procps python3 python3-venv python3-pip ca-certificates curl librsvg2-bin)
if [ "${1:-}" = "--with-test-tools" ]; then
    packages+=(vagrant chromium chromium-driver)
fi
# kubectl for the lab's API server (podnet kubeconfig): Debian's, unless a kubectl is already there.
if ! command -v kubectl >/dev/null && apt-cache show kubernetes-client >/dev/null 2>&1; then
    packages+=(kubernetes-client)
fi

say() { printf 'podnet install: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "run me as root (sudo $0)"
    exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; the lab runs as root, so: no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    timeout 900 apt-get update -q >/dev/null
    timeout 1800 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

for tool in mnexec nsenter ip tcpdump; do
    command -v "$tool" >/dev/null || { say "$tool is still missing after the install"; exit 1; }
done
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || { say "no CNI reference plugins found"; exit 1; }

# The distribution's python3 owns the mininet module, so the venv is made from it.
python=/usr/bin/python3
stamp="$venv/.podnet-installed"
want=$(cat "$repo/requirements.txt" "$repo/setup.py" | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
    say "creating $venv"
    "$python" -m venv --system-site-packages "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python packages into $venv"
    timeout 900 "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$repo/requirements.txt"
    timeout 900 "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e "$repo"
    echo "$want" > "$stamp"
fi
"$venv/bin/python" -c 'import mininet.net, pyroute2, yaml, aiohttp, markdown, cryptography, podnet' || { say "the virtual environment is broken; remove $venv and run me again"; exit 1; }
if [ "${1:-}" = "--with-test-tools" ] && [ ! -x "$venv/kubernetes-client/usr/bin/kubectl" ]; then
    if apt-cache show kubernetes-client >/dev/null 2>&1; then
        say "unpacking Debian's kubernetes-client (kubectl) into $venv/kubernetes-client"
        download=$(mktemp -d)
        trap 'rm -rf "$download"' EXIT
        (cd "$download" && timeout 900 apt-get download -q -o APT::Sandbox::User=root kubernetes-client >/dev/null)
        dpkg -x "$download"/kubernetes-client_*.deb "$venv/kubernetes-client.tmp"
        mv "$venv/kubernetes-client.tmp" "$venv/kubernetes-client"
        "$venv/kubernetes-client/usr/bin/kubectl" version --client >/dev/null || { say "the unpacked kubectl does not run"; exit 1; }
    else
        say "this distribution has no kubernetes-client package: the kubectl tests use the kubectl on PATH, if any"
    fi
fi
say "ready: $venv/bin/podnet"
