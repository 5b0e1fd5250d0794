"""What grading a lab produces: a result per check (PASS, FAIL or ERROR with evidence), a report.

Mirrors an autograder's record: an ERROR means the check could not run (the lab is down, a
namespace is gone) and never counts as a pass. Pure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from podnet.core.errors import PodnetError

PASS, FAIL, ERROR = "PASS", "FAIL", "ERROR"


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
    """The lab a check or a template needs is not running."""

