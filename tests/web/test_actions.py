"""What the page may ask podnet web to run (podnet.web.actions): each action becomes the
terminal command's argument list, and anything else is refused with the field, the value and
what is allowed, before anything runs. Pure."""

from __future__ import annotations

import pytest

from podnet.web.actions import BadRequest, command


def test_each_action_is_the_terminal_command():
    assert command("probe", {"source": "pod-1-1", "destination": "pod-3-2", "protocol": "tcp", "port": 8080},
                   "demo", None, None) == ["probe", "pod-1-1", "pod-3-2", "-p", "tcp", "--port", "8080",
                                           "--name", "demo", "-o", "json"]
    assert command("trace", {"source": "client", "destination": "web:80"}, "demo", None, None) == \
        ["trace", "client", "web:80", "--name", "demo", "-o", "json"]
    assert command("connect", {"source": "client", "target": "web.default.svc.cluster.local:80", "count": "5"},
                   "demo", None, None) == ["connect", "client", "web.default.svc.cluster.local:80", "-p", "tcp",
                                           "-c", "5", "--name", "demo", "-o", "json"]
    assert command("matrix", {"protocols": "tcp", "nodes": False}, "demo", None, None) == \
        ["probe", "--all", "--protocols", "tcp", "--no-nodes", "--name", "demo", "-o", "json"]
    assert command("capture", {"target": "pod-3-2", "filter": "tcp port 8080 and not arp", "count": 5},
                   "demo", None, "/tmp/x/capture-1.pcap") == \
        ["capture", "pod-3-2", "-c", "5", "--duration", "10", "-w", "/tmp/x/capture-1.pcap",
         "-f", "tcp port 8080 and not arp", "--name", "demo", "-o", "json"]
    assert command("check", {}, "lab-01", "01", None) == ["lab", "check", "01", "-o", "json"]


@pytest.mark.parametrize("kind, body, message", [
    ("probe", {"source": "--help", "destination": "pod-1-1"}, "invalid source: '--help'"),
    ("probe", {"source": "pod-1-1", "destination": "-oProxyCommand=x"}, "invalid destination: '-oProxyCommand=x'"),
    ("probe", {"source": "pod 1", "destination": "pod-1-1"}, "invalid source: 'pod 1'"),
    ("probe", {"source": "pod-1-1", "destination": "a;rm -rf /"}, "invalid destination"),
    ("probe", {"source": "pod-1-1", "destination": "pod-1-2", "protocol": "sctp"},
     "invalid protocol: 'sctp': one of icmp, udp, tcp"),
    ("probe", {"source": "pod-1-1", "destination": "pod-1-2", "port": 70000},
     "invalid port: 70000: a whole number from 1 to 65535"),
    ("probe", {"source": "pod-1-1", "destination": "pod-1-2", "port": True}, "invalid port: True"),
    ("trace", {"source": ["pod-1-1"], "destination": "web:80"}, "invalid source: ['pod-1-1']"),
    ("connect", {"source": "client", "target": "web:80", "count": 100}, "invalid count: 100"),
    ("matrix", {"nodes": "yes"}, "invalid nodes: 'yes': true or false"),
    ("capture", {"target": "pod-1-1", "filter": "-w /etc/passwd"}, "invalid filter: '-w /etc/passwd'"),
    ("capture", {"target": "pod-1-1", "filter": "tcp; reboot"}, "invalid filter"),
    ("capture", {"target": "pod-1-1", "duration": 0}, "invalid duration: 0: a whole number from 1 to 60"),
    ("check", {}, "invalid action: 'check': lab demo is not a course lab"),
    ("shell", {}, "invalid action: 'shell': one of probe, trace, connect, matrix, capture, check"),
    ("probe", "not an object", "invalid body: 'not an object': a JSON object"),
])
def test_bad_requests_say_which_field_and_what_is_allowed(kind, body, message):
    with pytest.raises(BadRequest) as info:
        command(kind, body, "demo", None, "/tmp/capture-1.pcap")
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)
