"""Annotations kubectl writes (``kubectl.kubernetes.io/last-applied-configuration``, and any
``kubectl annotate``), kept beside the lab's state.

Mirrors the annotations kube-apiserver stores with each object. podnet's own model has no
annotations, so the lab's API keeps them in a file of its own (``annotations.json`` in the
lab's API directory), keyed by resource, namespace and name, dropped with the object, and
merged into every object it serves.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading


class Annotations:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self.data: dict[str, dict[str, str]] = self._load()

    def _load(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    @staticmethod
    def key(resource: str, namespace: str, name: str) -> str:
        return f"{resource}/{namespace}/{name}"

    def get(self, resource: str, namespace: str, name: str) -> dict[str, str]:
        return self.data.get(self.key(resource, namespace, name), {})

    def set(self, resource: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
        with self._lock:
            key = self.key(resource, namespace, name)
            if annotations:
                self.data[key] = {str(k): str(v) for k, v in annotations.items()}
            else:
                self.data.pop(key, None)
            self._save()

    def drop(self, resource: str, namespace: str, name: str) -> None:
        self.set(resource, namespace, name, {})

    def keep_only(self, keys: set[str]) -> None:
        """Forget the annotations of objects that are gone (deleted by podnet, say)."""
        with self._lock:
            stale = [k for k in self.data if k not in keys]
            for key in stale:
                del self.data[key]
            if stale:
                self._save()

    def _save(self) -> None:
        directory = os.path.dirname(self.path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".annotations-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.data, out)
        os.rename(tmp, self.path)
