"""GET on the lab's API: one object, a list, a server-side Table, a watch.

Mirrors kube-apiserver's read verbs: ``get`` (404 Status when absent), ``list`` (a
``<Kind>List`` with the current resourceVersion, filtered by label and field selectors), the
Table form kubectl asks for (``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``), and
``watch`` (``?watch=1``: one JSON event per line, ADDED, MODIFIED, DELETED, from the
resourceVersion given, as Tables when Tables were asked for, until ``timeoutSeconds``).
"""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from podnet.web.kubeapi import tables
from podnet.web.kubeapi.paths import Target
from podnet.web.kubeapi.selectors import SelectorError, field_matcher, label_matcher, not_found, status
from podnet.web.kubeapi.store import Gone, Store


def respond(data: dict, code: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=code, content_type="application/json")


def wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _filters(request: web.Request):
    try:
        labels = label_matcher(request.query.get("labelSelector"))
        fields = field_matcher(request.query.get("fieldSelector"))
    except SelectorError as exc:
        return None, respond(status(400, "BadRequest", str(exc)), 400)
    return (lambda o: labels(o["metadata"].get("labels") or {}) and fields(o)), None


def get_one(request: web.Request, store: Store, target: Target) -> web.Response:
    obj = store.get(target.resource.name, target.namespace or "", target.name)
    if obj is None:
        return respond(not_found(target.resource.name, target.name, target.resource.group), 404)
    if wants_table(request):
        return respond(tables.table(target.resource.name, [obj], str(store.revision),
                                    request.query.get("includeObject", "Metadata")))
    return respond(obj)


def get_list(request: web.Request, store: Store, target: Target) -> web.Response:
    keep, error = _filters(request)
    if error is not None:
        return error
    objects, revision = store.view(target.resource.name, target.namespace)
    items = [o for o in objects if keep(o)]
    if wants_table(request):
        return respond(tables.table(target.resource.name, items, str(revision),
                                    request.query.get("includeObject", "Metadata")))
    return respond({"kind": f"{target.resource.kind}List", "apiVersion": target.resource.group_version,
                    "metadata": {"resourceVersion": str(revision)}, "items": items})


async def watch(request: web.Request, store: Store, target: Target) -> web.StreamResponse:
    keep, error = _filters(request)
    if error is not None:
        return error
    text = request.query.get("resourceVersion", "")
    seconds = request.query.get("timeoutSeconds", "1800") or "1800"
    if (text and not text.isdigit()) or not seconds.isdigit():
        return respond(status(400, "BadRequest", "resourceVersion and timeoutSeconds must be whole numbers"), 400)
    revision, timeout = int(text or 0), min(float(seconds), 24 * 3600.0)
    as_table = wants_table(request)
    response = web.StreamResponse(headers={"Content-Type": "application/json", "Cache-Control": "no-store"})
    await response.prepare(request)
    waiter = store.waiter()
    deadline = time.monotonic() + timeout
    try:
        if revision == 0:  # no resourceVersion: the current objects first, as ADDED
            objects, revision = store.view(target.resource.name, target.namespace)  # one consistent moment
            for obj in objects:
                if (target.name is None or obj["metadata"]["name"] == target.name) and keep(obj):
                    await _event(response, target, "ADDED", obj, as_table, store)
        while time.monotonic() < deadline and not client_gone(request):
            waiter.clear()  # before reading, so a change made meanwhile wakes the next wait
            try:
                changes = store.since(revision, target.resource.name, target.namespace)
            except Gone:
                gone = status(410, "Expired", f"too old resource version: {revision} ({store.oldest})")
                await response.write((json.dumps({"type": "ERROR", "object": gone}) + "\n").encode())
                break
            for rev, kind, obj in changes:
                revision = rev
                if (target.name is None or obj["metadata"]["name"] == target.name) and keep(obj):
                    await _event(response, target, kind, obj, as_table, store)
            try:
                await asyncio.wait_for(waiter.wait(), max(0.05, min(5.0, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                pass
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        store.drop(waiter)
    return response


def client_gone(request: web.Request) -> bool:
    """The client has hung up (aiohttp does not cancel a handler when that happens)."""
    return request.transport is None or request.transport.is_closing()


async def _event(response: web.StreamResponse, target: Target, kind: str, obj: dict, as_table: bool,
                 store: Store) -> None:
    body = tables.table(target.resource.name, [obj], obj["metadata"]["resourceVersion"]) if as_table else obj
    await response.write((json.dumps({"type": kind, "object": body}) + "\n").encode())
