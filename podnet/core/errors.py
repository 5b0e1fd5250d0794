"""The small error hierarchy every podnet layer raises.

Mirrors nothing in Kubernetes directly; it carries the exit-code contract of the CLI:
0 success, 1 a failed check or command, 2 bad input, 130 interrupted.
Messages name the operation, the object and, for kernel work, the namespace.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class PodnetError(Exception):
    """Base class; ``exit_code`` is what the CLI returns for it."""

    exit_code = EXIT_FAILED


class InputError(PodnetError):
    """Bad user input: names the field, the value and what is allowed. Nothing was created."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, field: str, value: object, allowed: str):
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid {field}: {value!r}: {allowed}")


class LabConflict(PodnetError):
    """A lab with this name exists already (or none exists where one is needed)."""

    exit_code = EXIT_BAD_INPUT


class KernelError(PodnetError):
    """A netlink, namespace or command operation failed inside the lab."""


class CniError(PodnetError):
    """A CNI plugin returned an error (code and msg as in the CNI spec)."""

    def __init__(self, plugin: str, command: str, code: int, msg: str, details: str = ""):
        self.plugin = plugin
        self.command = command
        self.code = code
        self.msg = msg
        self.details = details
        super().__init__(f'plugin type="{plugin}" failed ({command.lower()}): {msg}')
