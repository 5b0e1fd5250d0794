"""Running a lab: start, reset, solution, and the checks that grade it.

Mirrors a lab guide with a grader: ``start`` brings the lab's cluster up (as ``lab-NN``)
and sets up its starting state, ``check`` evaluates every declared check against the live
lab with real probes and reports PASS, FAIL or ERROR with evidence, ``solution`` shows (or
with ``apply`` performs) the steps of a solution, ``reset`` goes back to the start.
An ERROR means the check could not run (the lab is down, a namespace is gone); it never
counts as a pass. Values in lab files may refer to the live lab with ``{kind:arg}``
templates (``{pod-ip:pod-1-1}``, ``{node-ip:node-2}``, ``{service-ip:web}``,
``{first-pod:web}``...), so a check or an answer key is written once and holds for any run.
Deviation: a check is evaluated once, when asked; nothing watches the lab in between.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from ipaddress import IPv4Network

import yaml

from podnet import controller, netns, spec as spec_mod, state as state_store
from podnet.course.labfile import Check, LabDef, lab_dir_file
from podnet.errors import InputError, KernelError, PodnetError
from podnet.model import RUNNING, LabState

PASS, FAIL, ERROR = "PASS", "FAIL", "ERROR"
ANSWERS = "answers.yaml"
RECORD = ".record.json"
_TEMPLATE = re.compile(r"\{([a-z-]+):([^{}]*)\}|\{([a-z-]+)\}")


@dataclass
class CheckResult:
    name: str
    type: str
    status: str
    evidence: str


@dataclass
class Report:
    lab: str
    title: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.status == PASS for r in self.results)

    def to_json(self) -> dict:
        counts = {s: sum(1 for r in self.results if r.status == s) for s in (PASS, FAIL, ERROR)}
        return {"lab": self.lab, "title": self.title, "passed": self.passed, "counts": counts,
                "checks": [asdict(r) for r in self.results]}


class NotRunning(PodnetError):
    pass


def work_dir(base: str, lab: LabDef) -> str:
    return os.path.join(os.path.abspath(base), lab.work_name)


# -- templates ----------------------------------------------------------------------------------

def resolve(state: LabState | None, text: object, record: dict | None = None) -> object:
    """Replace ``{kind:arg}`` in ``text`` with values from the live lab (non-strings pass)."""
    if not isinstance(text, str):
        return text
    whole = _TEMPLATE.fullmatch(text)
    if whole:
        return _value(state, whole.group(1) or whole.group(3), whole.group(2) or "", record)
    return _TEMPLATE.sub(lambda m: str(_value(state, m.group(1) or m.group(3), m.group(2) or "", record)), text)


def _value(state: LabState | None, kind: str, arg: str, record: dict | None) -> object:
    if state is None:
        raise NotRunning("the lab is not running")
    if kind == "pod-ip":
        pod = state.pods.get(arg)
        if pod is None or not pod.ip:
            raise InputError("template", f"{{pod-ip:{arg}}}", "that Pod has no IP")
        return pod.ip
    if kind == "node-ip":
        return state.nodes[arg].internal_ip
    if kind == "pod-node":
        return state.pods[arg].node
    if kind in ("service-ip", "node-port"):
        key = arg if "/" in arg else f"default/{arg}"
        service = state.services.get(key)
        if service is None:
            raise InputError("template", f"{{{kind}:{arg}}}", "no such Service")
        return service.cluster_ip if kind == "service-ip" else service.ports[0].node_port
    if kind == "first-pod":
        owned = sorted(p.name for p in state.pods.values() if p.owner == f"default/{arg}")
        if not owned:
            raise InputError("template", f"{{first-pod:{arg}}}", "that Deployment has no Pods")
        return owned[0]
    if kind == "count-phase":
        return sum(1 for p in state.pods.values() if p.phase == arg and p.namespace == "default")
    if kind == "nodes-with-cidr":
        return sum(1 for n in state.nodes.values() if n.pod_cidr)
    if kind == "node-cidr":
        return state.nodes[arg].pod_cidr
    if kind == "cluster-cidr":
        return str(state.spec.cluster_cidr)
    if kind == "recorded-ip":
        return (record or {}).get("pods", {}).get(arg)
    if kind in ("new-pod-ips", "gone-pod-ips"):
        # A Deployment's Pods compared with the ones a `record` step saw: the IPs of Pods that
        # appeared since (new) or of recorded Pods that are gone. A list: every one is accepted.
        before = (record or {}).get("pods", {})
        now = {p.name: p.ip for p in state.pods.values() if p.owner == f"default/{arg}"}
        pairs = now.items() if kind == "new-pod-ips" else before.items()
        other = before if kind == "new-pod-ips" else now
        return sorted(ip for name, ip in pairs if name not in other and ip)
    raise InputError("template", f"{{{kind}:{arg}}}", "unknown template")


# -- lab lifecycle ------------------------------------------------------------------------------

class LabRunner:
    def __init__(self, lab: LabDef, base_work: str, podnet_argv: list[str] | None = None):
        self.lab = lab
        self.work = work_dir(base_work, lab)
        self.podnet = podnet_argv or [sys.executable, "-I", "-m", "podnet"]  # -I: nothing from the cwd is imported

    # state
    def running(self) -> bool:
        return state_store.exists(self.lab.lab_name)

    def state(self) -> LabState | None:
        if not self.running():
            return None
        try:
            return state_store.load(self.lab.lab_name)
        except PodnetError:
            return None

    def record(self) -> dict:
        try:
            with open(os.path.join(self.work, RECORD), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    # lifecycle
    def start(self, progress=None) -> list[str]:
        """Bring the lab up and set up its starting state. Refuses if it exists already."""
        if self.running():
            raise InputError("lab", self.lab.id, f"is already started (lab {self.lab.lab_name}); "
                             f"'podnet lab reset {self.lab.id}' starts it again from scratch")
        try:
            os.makedirs(self.work, exist_ok=True)  # before anything exists: a bad --work changes nothing
        except OSError as exc:
            raise InputError("work", self.work, f"cannot be created: {exc.strerror}") from None
        if os.path.islink(self.work):
            raise InputError("work", self.work, "is a symlink: podnet writes only into a real directory")
        done = []
        if self.lab.topology is not None:
            self._up(self.lab.topology)
            done.append(f"lab {self.lab.lab_name} is up")
        try:
            for step in self.lab.start:
                done.append(self._step(step))
                if progress:
                    progress(len(done), len(self.lab.start) + 1)
        finally:
            self.give_to_student()
        return done

    def stop(self) -> bool:
        existed = self.running()
        controller.block_stop_signals()
        try:
            controller.teardown(self.lab.lab_name)
        finally:
            controller.unblock_stop_signals()
        return existed

    def reset(self, progress=None) -> list[str]:
        self.stop()
        if os.path.isdir(self.work):
            shutil.rmtree(self.work)
        return self.start(progress)

    def apply_solution(self) -> list[str]:
        try:
            return [self._step(step) for step in self.lab.solution]
        finally:
            self.give_to_student()

    def give_to_student(self) -> None:
        """Run with sudo, the work files belong to the student who ran it, so they can edit
        answers.yaml and open captures without sudo."""
        uid, gid = os.environ.get("SUDO_UID"), os.environ.get("SUDO_GID")
        if not uid or not gid or not uid.isdigit() or not gid.isdigit() or not os.path.isdir(self.work):
            return
        for root, dirs, files in os.walk(self.work):
            for name in [root] + [os.path.join(root, f) for f in files]:
                try:
                    os.chown(name, int(uid), int(gid), follow_symlinks=False)
                except OSError:
                    pass

    def _up(self, topology: dict, path_hint: str | None = None) -> None:
        data = dict(topology)
        data["name"] = self.lab.lab_name
        path = os.path.join(self.work, ".topology.yaml")
        write_file(path, yaml.safe_dump(data, sort_keys=False).encode())
        spec = spec_mod.spec_from_sources(path, {})
        lab = controller.up(spec, detached=True)
        lab.close()

    # steps
    def _open(self) -> controller.Lab:
        if not self.running():
            raise NotRunning(f"lab {self.lab.lab_name} is not running (start it: podnet lab start {self.lab.id})")
        return controller.Lab.open(self.lab.lab_name)

    def _step(self, step: dict) -> str:
        action, value = next(iter(step.items()))
        state = self.state()
        if action == "apply":
            from podnet.workloads.manifests import read_file

            lab = self._open()
            try:
                with state_store.LabLock(lab.paths):
                    result = lab.apply(read_file(lab_dir_file(self.lab, value)))
            finally:
                lab.close()
            return "; ".join(result.lines)
        if action == "delete":
            names = value.get("names") or [value.get("name")]
            names = [str(resolve(state, n)) for n in names]
            lab = self._open()
            try:
                with state_store.LabLock(lab.paths):
                    result = lab.delete(value["kind"], names, value.get("namespace", "default"))
            finally:
                lab.close()
            return "; ".join(result.lines)
        if action == "copy":
            source, target = (value, os.path.basename(value)) if isinstance(value, str) else (value["from"], value["to"])
            destination = os.path.join(self.work, os.path.basename(target))
            os.makedirs(self.work, exist_ok=True)
            with open(lab_dir_file(self.lab, source), "rb") as handle:
                write_file(destination, handle.read())
            return f"copied {source} to {destination}"
        if action == "exec":
            return self._exec(state, value)
        if action == "podnet":
            argv = [str(resolve(state, a)) for a in value] + ["--name", self.lab.lab_name]
            proc = subprocess.run(self.podnet + argv, capture_output=True, text=True, timeout=300)
            return f"podnet {' '.join(argv)}: exit {proc.returncode}"
        if action == "answers":
            answers = load_answers(self.work)
            resolved = {k: resolve(state, v, self.record()) for k, v in value.items()}
            # a template with several accepted values ({new-pod-ips:}) answers with the first
            answers.update({k: (v[0] if v else None) if isinstance(v, list) else v for k, v in resolved.items()})
            os.makedirs(self.work, exist_ok=True)
            write_file(os.path.join(self.work, ANSWERS), yaml.safe_dump(answers, sort_keys=False).encode())
            return f"wrote {len(value)} answer(s) to {os.path.join(self.work, ANSWERS)}"
        if action == "record":
            deployment = value["deployment"]
            pods = {p.name: p.ip for p in (state.pods.values() if state else []) if p.owner == f"default/{deployment}"}
            write_file(os.path.join(self.work, RECORD), json.dumps({"deployment": deployment, "pods": pods}).encode())
            return f"recorded {len(pods)} Pod(s) of {deployment}"
        if action == "capture":
            return self._capture(state, value)
        if action == "up":
            with open(lab_dir_file(self.lab, value["topology"]), encoding="utf-8") as handle:
                self._up(yaml.safe_load(handle))
            return f"lab {self.lab.lab_name} is up"
        if action == "wait":
            time.sleep(float(value))
            return f"waited {value}s"
        raise InputError("step", action, "unknown step")

    def _exec(self, state: LabState | None, value: dict) -> str:
        target = str(resolve(state, value["target"]))
        argv = [str(resolve(state, a)) for a in value["argv"]]
        path = netns.netns_path(f"{self.lab.lab_name}-{target}")
        proc = subprocess.run(["nsenter", f"--net={path}", "--", *argv], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 and not value.get("may_fail"):
            raise KernelError(f"{' '.join(argv)} in {target} failed: {proc.stderr.strip() or proc.returncode}")
        return f"{target}: {' '.join(argv)}"

    def _capture(self, state: LabState | None, value: dict) -> str:
        output = os.path.join(self.work, os.path.basename(value["file"]))
        if os.path.lexists(output):
            os.unlink(output)  # removes a planted link itself; capture then creates with O_EXCL|O_NOFOLLOW
        argv = self.podnet + ["capture", "--name", self.lab.lab_name, str(resolve(state, value["target"])),
                              "-c", str(value.get("count", 4)), "--duration", str(value.get("duration", 6)),
                              "-w", output]
        if value.get("filter"):
            argv += ["-f", str(resolve(state, value["filter"]))]
        if value.get("interface"):
            argv += ["-i", value["interface"]]
        capture = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)  # tcpdump is listening
            for step in value.get("while", []):
                self._step(step)
        finally:
            capture.wait(timeout=60)
        return f"captured into {output}"

    # checks
    def check(self) -> Report:
        report = Report(self.lab.id, self.lab.title)
        state = self.state()
        lab = None
        try:
            if state is not None:
                lab = controller.Lab.open(self.lab.lab_name)
            for check in self.lab.checks:
                report.results.append(self._evaluate(check, state, lab))
        finally:
            if lab is not None:
                lab.close()
        return report

    def _evaluate(self, check: Check, state: LabState | None, lab) -> CheckResult:
        from podnet.course import checks as check_mod

        try:
            status, evidence = check_mod.evaluate(self, check, state, lab)
        except NotRunning as exc:
            status, evidence = (FAIL if check.type == "lab" else ERROR), str(exc)
        except (KernelError, OSError) as exc:
            status, evidence = ERROR, f"the check could not run: {exc}"
        except InputError as exc:
            status, evidence = ERROR, f"the check could not run: {exc}"
        return CheckResult(check.name, check.type, status, evidence)


def write_file(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` without ever following a symlink planted there: a new
    file (O_EXCL, O_NOFOLLOW) beside it, renamed over it (a rename replaces a link, not its
    target)."""
    directory = os.path.dirname(path)
    if os.path.islink(directory):
        raise InputError("work", directory, "is a symlink: podnet writes only into a real directory")
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def load_answers(work: str) -> dict:
    path = os.path.join(work, ANSWERS)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        return {}
    except yaml.YAMLError:
        raise InputError("answers file", path, "is not valid YAML") from None
    return data if isinstance(data, dict) else {}


def overlaps(state: LabState) -> list[str]:
    spec = state.spec
    ranges = {"clusterCIDR": spec.cluster_cidr, "serviceCIDR": spec.service_cidr, "underlayCIDR": spec.underlay_cidr}
    found = []
    names = list(ranges)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if IPv4Network(ranges[a]).overlaps(IPv4Network(ranges[b])):
                found.append(f"{a} {ranges[a]} overlaps {b} {ranges[b]}")
    return found


def is_running_pod(state: LabState, name: str) -> bool:
    pod = state.pods.get(name)
    return pod is not None and pod.phase == RUNNING
