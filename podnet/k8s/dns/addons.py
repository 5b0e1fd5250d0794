"""The cluster add-ons every lab starts with: CoreDNS behind the kube-dns Service.

Mirrors what kubeadm installs: a ``coredns`` Deployment in ``kube-system`` (Pods labelled
``k8s-app: kube-dns`` with ports ``dns`` 53/UDP and ``dns-tcp`` 53/TCP) and the ``kube-dns``
Service at the tenth address of the Service CIDR (10.96.0.10 for 10.96.0.0/12), which
kubelets write into every Pod's resolv.conf with the search path
``<namespace>.svc.cluster.local svc.cluster.local cluster.local`` and ``ndots:5``.
Deviations: one replica instead of kubeadm's two (memory on a 2 GB VM); no metrics port. Pure.
"""

from __future__ import annotations

from podnet.core.model import LabState
from podnet.k8s.workloads.allocator import dns_service_ip
from podnet.k8s.workloads.manifests import ContainerPort, DeploymentObject, ServiceObject, ServicePort

CLUSTER_DOMAIN = "cluster.local"
DNS_LABELS = {"k8s-app": "kube-dns"}


def dns_objects(state: LabState) -> list:
    ports = (ContainerPort(53, "UDP", "dns"), ContainerPort(53, "TCP", "dns-tcp"))
    deployment = DeploymentObject("coredns", "kube-system", 1, dict(DNS_LABELS), dict(DNS_LABELS), None, ports)
    service = ServiceObject("kube-dns", "kube-system", "ClusterIP", dict(DNS_LABELS),
                            (ServicePort("dns", "UDP", 53, 53), ServicePort("dns-tcp", "TCP", 53, 53)),
                            str(dns_service_ip(state.spec.service_cidr)))
    return [deployment, service]


def zone(state: LabState) -> dict:
    """What the DNS server answers: ``<service>.<namespace>.svc.cluster.local`` -> ClusterIP."""
    records = {}
    for service in state.services.values():
        records[f"{service.name}.{service.namespace}.svc.{CLUSTER_DOMAIN}."] = [service.cluster_ip]
    return {"domain": CLUSTER_DOMAIN, "records": records}


def resolv_conf(state: LabState, namespace: str) -> str:
    """A Pod's /etc/resolv.conf, as the kubelet writes it for dnsPolicy ClusterFirst."""
    server = dns_service_ip(state.spec.service_cidr)
    # without the add-on the kubelet still points Pods at the cluster DNS address; nothing
    # answers there, so fail fast instead of waiting out the resolver's default retries
    fast = "" if state.spec.cluster_dns else " timeout:1 attempts:1"
    return f"search {' '.join(search_path(namespace))}\nnameserver {server}\noptions ndots:5{fast}\n"


def search_path(namespace: str) -> list[str]:
    return [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]
