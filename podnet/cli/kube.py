"""``podnet kubeconfig``: how kubectl reaches a lab, as ``kind get kubeconfig`` prints it; and
``podnet apiserver``, the lab's API server process itself (started by ``up``, not by people).

Mirrors kind: the kubeconfig names its cluster, user and context ``podnet-LAB``, carries the
lab's CA (``certificate-authority-data``) and bearer token, and points at
``https://127.0.0.1:PORT`` (the address ``up --api-listen`` asked for, if another). A lab whose API server is not running (``up --no-api``, a lab
from before) gets one started. The kubeconfig holds a secret: it is printed, never written
anywhere by podnet.
"""

from __future__ import annotations

import base64
import json
import sys

import yaml

from podnet.cli.common import check_listen, lab_name
from podnet.core.errors import EXIT_OK, InputError, PodnetError
from podnet.kernel import state_file
from podnet.lab import apiserver

WAIT = 15.0


def add_parsers(sub) -> None:
    k = sub.add_parser("kubeconfig", help="print a kubeconfig for kubectl to reach the lab's API "
                                          "(KUBECONFIG=FILE kubectl get pods)")
    k.add_argument("--name", help="lab name (default: the only running lab, else podnet)")
    k.add_argument("-o", "--output", default="yaml", choices=("yaml", "json"))
    a = sub.add_parser("apiserver", description="(internal) the lab's Kubernetes API server; podnet up starts it")
    a.add_argument("--name", required=True)
    a.add_argument("--port", default="0")
    a.add_argument("--listen", default=apiserver.DEFAULT_LISTEN)
    a.add_argument("--fd", help="(internal) a listening socket to serve on, handed over by the activator")


def kubeconfig(lab: str, server: str, ca_pem: bytes, token: str) -> dict:
    name = f"podnet-{lab}"
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": name,
        "clusters": [{"name": name, "cluster": {"server": server,
                                                "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
    }


def cmd_kubeconfig(args) -> int:
    name = lab_name(args.name)
    raw = state_file.load_raw(name)
    if raw is None:
        raise InputError("name", name, "no such lab is running (see 'podnet list')")
    if raw.get("spec", {}).get("model") == "docker":
        raise InputError("name", name, "a Docker-model lab has no Kubernetes API")
    if not apiserver.running(name):
        apiserver.start(name, apiserver.recorded_listen(name))
    port = apiserver.endpoint(name, wait=WAIT) if apiserver.running(name) else None
    if port is None:
        raise PodnetError(f"the API server of lab {name} did not start: see {apiserver.directory(name)}/apiserver.log")
    from podnet.web.kubeapi import tls

    creds = tls.ensure(apiserver.directory(name), name, apiserver.recorded_listen(name))
    config = kubeconfig(name, apiserver.server_url(name, port), creds.ca_pem(), creds.token())
    if args.output == "json":
        print(json.dumps(config, indent=2))
    else:
        sys.stdout.write(yaml.safe_dump(config, sort_keys=False))
    return EXIT_OK


def cmd_apiserver(args) -> int:
    from podnet.core.addressing import parse_int
    from podnet.web.kubeapi import server, tls
    from podnet.web.kubeapi.writes import Writer

    name = args.name
    port = parse_int("port", args.port, 0, 65535)
    listen = check_listen(args.listen)
    if state_file.load_raw(name) is None:
        raise InputError("name", name, "no such lab is running")
    fd = None if args.fd is None else parse_int("fd", args.fd, 3, 1 << 20)
    creds = tls.ensure(apiserver.directory(name), name, listen)
    server.serve(name, creds, listen, port, lambda bound: apiserver.announce(name, listen, bound),
                 mount=lambda api: setattr(api, "writes", Writer(api)), fd=fd)
    return EXIT_OK


HANDLERS = {"kubeconfig": cmd_kubeconfig, "apiserver": cmd_apiserver}
