#!/usr/bin/env bash
# podnet's main demo, end to end: installs what is missing, then walks through the Kubernetes
# network model with real namespaces, real CNI plugins and real packets. Everything it makes
# lives in network namespaces named demo-*, and is torn down at the end (or on Ctrl-C).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/install.sh"
podnet="$repo/.venv/bin/podnet"
labs=(demo demo-nocni demo-tiny demo-slice demo-cmp-k8s demo-cmp-docker)
capdir=""
kubedir=""

cleanup() {
    for lab in "${labs[@]}"; do "$podnet" down --name "$lab" >/dev/null 2>&1 || true; done
    if [ -n "$capdir" ]; then rm -rf "$capdir"; fi
    if [ -n "$kubedir" ]; then rm -rf "$kubedir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ podnet %s\n' "$*"; "$podnet" "$@"; }

step "1. A cluster: three nodes on one L2 network, two Pods on each, wired by the bridge CNI plugin"
run up -d --name demo

step "2. Every node owns a slice of the cluster Pod CIDR; every Pod has its own IP from its node's slice"
run get pods -o wide --name demo

step "3. Pod to Pod across nodes, directly, without NAT: a capture inside the receiving Pod"
src_ip=$("$podnet" get pods pod-1-1 -o json --name demo | "$repo/.venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["status"]["podIP"])')
dst_ip=$("$podnet" get pods pod-3-2 -o json --name demo | "$repo/.venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["status"]["podIP"])')
capdir=$(mktemp -d /tmp/podnet-demo-XXXXXX)
capture="$capdir/pod-3-2.pcap"
"$podnet" capture --name demo pod-3-2 -f icmp -c 2 --duration 5 -w "$capture" &
sleep 1
run exec --name demo pod-1-1 -- ping -c 1 -W 2 "$dst_ip"
wait
echo "The same capture read by tcpdump (open $capture in Wireshark too):"
tcpdump -n -v -r "$capture" 2>/dev/null | head -2
echo "=> the source is pod-1-1's own IP $src_ip (no NAT), and the TTL is 62: two routed hops, the two nodes."

step "4. One probe, every hop: where the packet went and what it looked like there"
echo "(a server listens on TCP 8080 in pod-3-2, as a container would; the probe is a SYN to it)"
"$podnet" exec --name demo pod-3-2 -- "$repo/.venv/bin/python" -c \
    'import socket, time; s = socket.socket(); s.bind(("0.0.0.0", 8080)); s.listen(8); time.sleep(20)' &
listener=$!
sleep 0.5
run probe --name demo pod-1-1 pod-3-2 -p tcp --port 8080
kill "$listener" 2>/dev/null || true
wait "$listener" 2>/dev/null || true

step "5. The whole matrix, like Kubernetes' e2e checks: every Pod and node to every Pod, UDP and TCP"
run probe --name demo --all

step "6. What makes it work: each node routes the other nodes' podCIDRs via their INTERNAL-IP (host-gw)"
run exec --name demo node-1 -- ip -4 route

step "7. Node agents reach their Pods, and the Mininet CLI works on every node and Pod (pingall)"
printf 'node-1 ping -c 1 -W 2 pod-1-1\npingall\n' | "$podnet" cli --name demo

step "8. The four kinds of traffic: a Deployment behind Services, a client Pod, the Internet and an external client"
run apply --name demo -f "$repo/topologies/workloads/web.yaml"
run get svc -A --name demo
run get endpoints --name demo
echo "-- Pod-to-Service: the client resolves web through the cluster DNS; kube-proxy spreads requests over the backends,"
echo "   and every backend sees the client Pod's own IP"
run connect --name demo client web:80 -c 6
echo "-- the same four kinds, each traced hop by hop with every address rewrite named:"
run trace --name demo client pod-3-2
run trace --name demo client web:80
run trace --name demo external node-2:30080
run trace --name demo client internet:80
echo "-- kube-proxy's rules on node-1, as iptables-save shows them:"
"$podnet" exec --name demo node-1 -- iptables-save -t nat | grep 'default/web:http' | grep -E '^-A KUBE-(SERVICES|SVC|SEP)' | head -9
echo "-- Pod IPs are not stable: delete a backend; its replacement has a new name and IP, the ClusterIP stays"
first=$("$podnet" get endpoints web -o json --name demo | "$repo/.venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["subsets"][0]["addresses"][0]["targetRef"]["name"])')
run delete --name demo pod "$first"
run get endpoints web --name demo
run connect --name demo client web:80 -c 3

step "9. NetworkPolicy takes reachability away, Pod by Pod: only client may reach web (a kube-router-style agent)"
run apply --name demo -f "$repo/topologies/workloads/web-policy.yaml"
run get netpol --name demo
echo "-- client still reaches web through the Service; pod-2-1 is dropped at web's node, and trace names the policy:"
run connect --name demo client web:80 -c 3
web_pod=$("$podnet" get endpoints web -o json --name demo | "$repo/.venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["subsets"][0]["addresses"][0]["targetRef"]["name"])')
run trace --name demo pod-2-1 "$web_pod:8080" -p tcp || true
echo "-- the matrix as a truth table (TCP): x is a pair the policy denies and that was dropped; any LEAK or miss fails"
run probe --all --no-nodes --protocols tcp --name demo
run delete --name demo -f "$repo/topologies/workloads/web-policy.yaml"

step "10. The real kubectl, against the lab's own Kubernetes API server: one state, two clients"
kubectl_bin=$(command -v kubectl || true)
if [ -z "$kubectl_bin" ]; then
    echo "(no kubectl on this machine: scripts/install.sh installs Debian's kubernetes-client where it can)"
else
    kubedir=$(mktemp -d)
    (umask 077; "$podnet" kubeconfig --name demo > "$kubedir/demo.kubeconfig")
    k() { printf '$ kubectl %s\n' "$*"; HOME="$kubedir" KUBECONFIG="$kubedir/demo.kubeconfig" "$kubectl_bin" "$@"; }
    echo "-- podnet kubeconfig --name demo > demo.kubeconfig; the same nodes, Pods and IPs as above:"
    k get nodes -o wide
    k get pods -o wide -l app=web
    k exec client -- ip -4 -o addr show eth0
    k apply -f "$repo/topologies/workloads/hello.yaml"
    k get deployment,svc hello
    k delete -f "$repo/topologies/workloads/hello.yaml"
    left_hello=$("$podnet" get pods --name demo | grep -c '^hello-' || true)
    echo "-- hello Pods left after kubectl delete (podnet get pods): $left_hello"
fi

step "11. The contrast: the same machines with a Docker bridge each, measured side by side"
run compare --name demo-cmp

step "12. Who implements the model? Without a CNI config, nodes are NotReady and Pods Pending"
run up -d --name demo-nocni --cni none --nodes 2 --pods-per-node 1 >/dev/null
run get nodes --name demo-nocni
run get pods -A --name demo-nocni
"$podnet" describe node node-1 --name demo-nocni | grep -E 'Ready|NetworkReady' | head -2
echo "... installing the bridge plugin: the kubelets retry and the Pods get their IPs"
run cni install bridge --name demo-nocni

step "13. IP allocation has limits: a /23 cluster CIDR has slices for only two /24 nodes"
run up -d --name demo-tiny -t tiny-cidr >/dev/null
run get nodes --name demo-tiny
"$podnet" describe node node-3 --name demo-tiny | grep -E 'NetworkUnavailable|status is now: CIDR' 
echo "... and a /30 node slice holds a single Pod: the next one stays ContainerCreating"
run up -d --name demo-slice --node-cidr-mask-size 30 --nodes 1 --pods-per-node 2 >/dev/null
run get pods --name demo-slice
"$podnet" describe pod pod-1-2 --name demo-slice | grep -E 'Message:' 

step "14. Teardown leaves nothing behind"
for lab in "${labs[@]}"; do run down --name "$lab"; done
left=$(ip netns list | grep -c '^demo' || true)
echo "network namespaces of the demo left on this machine: $left"
echo "demo finished"
