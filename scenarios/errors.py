"""The one exceptions module of Tandem: every error a user can see is defined here."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DataError",
    "PlanError",
    "Problem",
    "ScenarioError",
    "TandemError",
]


@dataclass(frozen=True)
class Problem:
    """One problem in user input: where it is (a field path) and what is wrong, in words."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class TandemError(Exception):
    """Base class of all errors Tandem raises on purpose."""


class ScenarioError(TandemError, ValueError):
    """A scenario (file, override or what-if) is invalid. Carries every problem found at once.

    Examples
    --------
    >>> err = ScenarioError([Problem("lanes[3].dst", "unknown node 'DC9'")], source="x.yaml")
    >>> print(err)
    x.yaml: 1 problem
      - lanes[3].dst: unknown node 'DC9'
    """

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.source}: " if self.source else ""
        count = len(self.problems)
        lines = [f"{head}{count} problem{'s' if count != 1 else ''}"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class DataError(TandemError, ValueError):
    """A data file given to Tandem (transactions, state, results) is unusable; the message says why."""


class PlanError(TandemError):
    """The optimizer could not produce a usable plan (solver failure, not infeasibility)."""
