"""What a scheduled Lambda is: a name, a rate and the function it runs.

Each feature lists its jobs in its `jobs.py`; `chalicelib.features` gathers them, app.py
registers each with Chalice and the local runner calls each at the same rate. Every job
is idempotent: run twice, it does the work once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Job:
    name: str
    minutes: int
    run: Callable[[], dict]

    @property
    def handler_name(self) -> str:
        """The Lambda's name in Chalice, and its handler "app.<handler_name>"."""
        return f"job_{self.name}"
