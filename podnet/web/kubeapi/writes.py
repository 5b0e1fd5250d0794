"""POST, PUT, PATCH and DELETE on the lab's API: kubectl's create, apply, replace, label,
scale and delete, carried out by the lab itself.

Mirrors kube-apiserver's write verbs on one store: ``create`` (409 AlreadyExists when the
object is there), ``update`` (PUT the whole object), ``patch`` (merge, JSON or strategic,
:mod:`podnet.web.kubeapi.patches`), ``delete`` (the object as it was, then gone; a
Deployment's Pods go with it, as background propagation does) and ``deletecollection``.
Every write becomes a manifest that podnet's own ``apply`` or ``delete`` performs under the
lab's lock, so validation, the controllers and the kernel are the ones podnet's CLI uses:
one state, two clients. Refusals are Status objects with the API server's reasons (422
Invalid with the field, 404 NotFound, 409 AlreadyExists, 400 BadRequest). Annotations (kubectl
apply's last-applied configuration) are kept beside the lab (:mod:`podnet.web.kubeapi.annotations`).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiohttp import web

from podnet.core.errors import InputError, PodnetError
from podnet.k8s.workloads.api_fields import InvalidObject, labels_field
from podnet.k8s.workloads.manifests import parse_documents
from podnet.k8s.workloads.namespaces import NotFound
from podnet.lab.session import Lab
from podnet.web.kubeapi import streams
from podnet.web.kubeapi.patches import PatchError, apply_patch
from podnet.web.kubeapi.paths import Target
from podnet.web.kubeapi.reads import respond
from podnet.web.kubeapi.selectors import SelectorError, field_matcher, label_matcher, not_found, status

WRITABLE = {"pods": "Pod", "services": "Service", "deployments": "Deployment", "namespaces": "Namespace",
            "networkpolicies": "NetworkPolicy"}


def _refusal(exc: Exception, target: Target) -> web.Response:
    if isinstance(exc, NotFound):
        return respond(status(404, "NotFound", str(exc)), 404)
    if isinstance(exc, InvalidObject):
        text = str(exc)
        after_field = text.split(f"{exc.path}: ", 1)[-1] if exc.path and f"{exc.path}: " in text else text
        details = {"name": exc.name, "kind": exc.kind,
                   "causes": [{"reason": "FieldValueInvalid", "message": after_field, "field": exc.path}]}
        return respond(status(422, "Invalid", str(exc), details), 422)
    if isinstance(exc, (PatchError, json.JSONDecodeError)):
        return respond(status(400, "BadRequest", str(exc)), 400)
    return respond(status(422, "Invalid", str(exc)), 422)


def _clients_annotations(body: dict) -> dict:
    """The annotations a client set (kubectl's last-applied configuration, say): podnet's own
    ``podnet.io/*`` ones follow from the lab and are never stored."""
    return {k: v for k, v in (body["metadata"].get("annotations") or {}).items() if not k.startswith("podnet.io/")}


def _scale_of(deployment: dict) -> dict:
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: deployment["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion")},
            "spec": {"replicas": deployment["spec"]["replicas"]},
            "status": {"replicas": deployment["status"].get("replicas", 0)}}


class Conflict(Exception):
    """A PUT of an object that has changed since the client read it."""

    def __init__(self, resource: str, name: str):
        super().__init__(f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
                         "please apply your changes to the latest version and try again")


class Writer:
    """Every write of one API server, one at a time, through one open lab."""

    def __init__(self, server):
        self.server = server
        self.store = server.store
        self._lock = threading.Lock()
        self._lab: Lab | None = None

    # -- the lab -----------------------------------------------------------------------------------

    def _run(self, action):
        with self._lock:
            if self._lab is None:
                self._lab = Lab.open(self.server.lab)
            lab = self._lab
            with lab.lock():
                lab.refresh_if_changed()
                result = action(lab)
        self.store.refresh()
        return result

    async def _in_lab(self, action):
        return await asyncio.get_running_loop().run_in_executor(None, self._run, action)

    def close(self) -> None:
        if self._lab is not None:
            self._lab.close()

    # -- dispatch ----------------------------------------------------------------------------------

    async def handle(self, request: web.Request, target: Target) -> web.StreamResponse:
        try:
            if target.sub is not None:
                return await self._subresource(request, target)
            return await self._write(request, target)
        except (InputError, PatchError, json.JSONDecodeError) as exc:
            return _refusal(exc, target)
        except Conflict as exc:
            return respond(status(409, "Conflict", str(exc), {"name": target.name, "kind": target.resource.name}), 409)
        except (ValueError, TypeError, AttributeError, KeyError, LookupError, RecursionError) as exc:
            # a body or parameter of the wrong shape (metadata a string, a bad charset, ...)
            return respond(status(400, "BadRequest", f"the request is invalid: {type(exc).__name__}: {exc}"[:500]), 400)
        except PodnetError as exc:
            return respond(status(500, "InternalError", str(exc)), 500)

    async def subresource(self, request: web.Request, target: Target) -> web.StreamResponse:
        return await self.handle(request, target)

    async def _write(self, request: web.Request, target: Target) -> web.StreamResponse:
        if target.resource.name not in WRITABLE:
            return respond(status(405, "MethodNotAllowed", f"{target.resource.name} are read-only in this lab: "
                                  "they follow from the objects podnet runs"), 405)
        if request.method == "POST" and target.name is None:
            return await self.create(request, target)
        if request.method == "PUT" and target.name:
            return await self.update(request, target, await request.json())
        if request.method == "PATCH" and target.name:
            return await self.patch(request, target)
        if request.method == "DELETE":
            return await (self.delete(request, target) if target.name else self.delete_collection(request, target))
        return respond(status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"), 405)

    async def _subresource(self, request: web.Request, target: Target) -> web.StreamResponse:
        allowed = {"log": ("GET",), "exec": ("GET", "POST"), "status": ("GET",), "scale": ("GET", "PUT", "PATCH")}
        if request.method not in allowed.get(target.sub or "", ("GET",)):
            return respond(status(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                  "resource"), 405)
        if target.resource.name == "pods" and target.sub == "log":
            return await streams.logs(request, self.server, target)
        if target.resource.name == "pods" and target.sub == "exec":
            return await streams.exec_pod(request, self.server, target)
        if target.resource.name == "pods" and target.sub == "status":
            from podnet.web.kubeapi.reads import get_one
            return get_one(request, self.store, Target(target.resource, target.namespace, target.name))
        if target.resource.name == "deployments" and target.sub == "scale":
            return await self.scale(request, target)
        return respond(status(404, "NotFound", "the server could not find the requested resource"), 404)

    # -- verbs ------------------------------------------------------------------------------------

    def _document(self, body: Any, target: Target) -> dict:
        if not isinstance(body, dict):
            raise InputError("body", body, "must be a JSON object")
        kind = WRITABLE[target.resource.name]
        if body.get("kind") != kind:
            raise InputError("kind", body.get("kind"), f"this path takes {kind} objects")
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise InputError("metadata", meta, "must be an object")
        if not isinstance(meta.get("annotations") or {}, dict):
            raise InputError("metadata.annotations", meta.get("annotations"), "must be a map of strings")
        if target.namespace is not None:
            if meta.get("namespace", target.namespace) != target.namespace:
                raise InputError("metadata.namespace", meta.get("namespace"),
                                 f"the namespace of the provided object does not match the namespace sent on the "
                                 f"request ({target.namespace})")
            meta["namespace"] = target.namespace
        return body

    def _current(self, target: Target, name: str) -> dict | None:
        return self.store.get(target.resource.name, target.namespace or "", name)

    async def create(self, request: web.Request, target: Target) -> web.Response:
        body = self._document(await request.json(), target)
        name = body["metadata"].get("name")
        if request.query.get("dryRun") == "All":
            parse_documents([body], "request")
            return respond(body, 201)

        def action(lab: Lab) -> bool:
            self.store.refresh()  # under the lab's lock: whatever was saved last, by anyone
            if name and self._current(target, name) is not None:
                return False
            self._apply_now(lab, body, target)
            return True

        if not await self._in_lab(action):
            return respond(status(409, "AlreadyExists", f'{target.resource.name} "{name}" already exists',
                                  {"name": name, "kind": target.resource.name}), 409)
        return respond(self._current(target, body["metadata"]["name"]) or body, 201)

    def _apply_now(self, lab: Lab, body: dict, target: Target) -> None:
        objects = parse_documents([body], "request")
        annotations = _clients_annotations(body)
        lab.apply(objects)
        self.store.annotations.set(target.resource.name, target.namespace or "", body["metadata"]["name"], annotations)

    async def change(self, target: Target, build) -> web.Response:
        """Read one object, change it with ``build(current)`` and write it, all under the lab's
        lock: a write from podnet's CLI or another client is never undone by this one."""
        def action(lab: Lab) -> None:
            self.store.refresh()
            current = self._current(target, target.name)
            if current is None:
                raise NotFound(target.resource.name, target.name)
            body = self._document(build(current), target)
            if body["metadata"].get("name", target.name) != target.name:
                raise InputError("metadata.name", body["metadata"].get("name"), f"must be {target.name}, as in the path")
            body["metadata"]["name"] = target.name
            if target.resource.name in ("pods", "namespaces") and body.get("spec") in (None, current.get("spec")):
                self._relabel_now(lab, target, current, body)  # kubectl label or annotate: only the metadata moved
            else:
                self._apply_now(lab, body, target)

        await self._in_lab(action)
        self.store.refresh(force=True)
        return respond(self._current(target, target.name))

    async def update(self, request: web.Request, target: Target, body: Any) -> web.Response:
        def replace(current: dict) -> Any:
            given = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
            if given and given != current["metadata"]["resourceVersion"]:
                raise Conflict(target.resource.name, target.name)
            return body
        return await self.change(target, replace)

    def _relabel_now(self, lab: Lab, target: Target, current: dict, body: dict) -> None:
        """Labels and annotations of a Pod or Namespace changed as ``podnet label`` changes them
        (a Deployment's Pod may be relabelled: out of its selector, it is orphaned and replaced)."""
        kind_name = "Pod" if target.resource.name == "pods" else "Namespace"
        old = current["metadata"].get("labels") or {}
        new = labels_field(kind_name, target.name, "metadata.labels", body["metadata"].get("labels"))
        sets = {k: v for k, v in new.items() if old.get(k) != v}
        removes = [k for k in old if k not in new]
        if sets or removes:
            lab.label(kind_name.lower(), target.name, target.namespace or "default", sets, removes, overwrite=True)
        annotations = _clients_annotations(body)
        self.store.annotations.set(target.resource.name, target.namespace or "", target.name, annotations)

    async def patch(self, request: web.Request, target: Target) -> web.Response:
        patch, kind = await request.json(), request.content_type
        return await self.change(target, lambda current: apply_patch(kind, current, patch))

    async def delete(self, request: web.Request, target: Target) -> web.Response:
        current = self._current(target, target.name)
        if current is None:
            return respond(not_found(target.resource.name, target.name, target.resource.group), 404)
        kind = WRITABLE[target.resource.name]
        await self._in_lab(lambda lab: lab.delete(kind, [target.name], target.namespace or "default"))
        self.store.annotations.drop(target.resource.name, target.namespace or "", target.name)
        if target.resource.name == "pods":
            return respond(current)
        return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "details": {"name": target.name, "group": target.resource.group, "kind": target.resource.name,
                                    "uid": current["metadata"]["uid"]}})

    async def delete_collection(self, request: web.Request, target: Target) -> web.Response:
        if not target.resource.namespaced or target.namespace is None:  # as discovery says: not on these paths
            return respond(status(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                                  "resource"), 405)
        try:
            matches = label_matcher(request.query.get("labelSelector"))
            fields = field_matcher(request.query.get("fieldSelector"))
        except SelectorError as exc:
            return respond(status(400, "BadRequest", str(exc)), 400)
        names = [o["metadata"]["name"] for o in self.store.list(target.resource.name, target.namespace)
                 if matches(o["metadata"].get("labels") or {}) and fields(o)]
        kind = WRITABLE[target.resource.name]
        if names:
            await self._in_lab(lambda lab: lab.delete(kind, names, target.namespace or "default"))
        return respond({"kind": f"{kind}List", "apiVersion": target.resource.group_version,
                        "metadata": {"resourceVersion": str(self.store.revision)}, "items": []})

    async def scale(self, request: web.Request, target: Target) -> web.Response:
        """The scale subresource: read, or change only the replicas (inside the lab's lock)."""
        current = self._current(target, target.name)
        if current is None:
            return respond(not_found(target.resource.name, target.name, target.resource.group), 404)
        if request.method == "GET":
            return respond(_scale_of(current))
        body, kind, patching = await request.json(), request.content_type, request.method == "PATCH"

        def rescale(latest: dict) -> dict:
            wanted = apply_patch(kind, _scale_of(latest), body) if patching else body
            spec = wanted.get("spec") if isinstance(wanted, dict) else None
            if not isinstance(spec, dict):
                raise InputError("spec", spec, "must be an object with replicas")
            return dict(latest, spec=dict(latest["spec"], replicas=spec.get("replicas")))

        await self.change(target, rescale)
        return respond(_scale_of(self._current(target, target.name) or current))
