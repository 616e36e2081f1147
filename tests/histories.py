"""Hand-made histories for the tests: a builder that reads like the history it makes.

Times are given in milliseconds and stored in nanoseconds, as the recorder does. Every
operation gets the next index; clients are plain numbers (process ``c<n>``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from swarmcheck.checkers.history import History, Mark, Operation, Status

MS = 1_000_000


class HistoryBuilder:
    def __init__(self, model: str, initial: Mapping[str, Any] | None = None) -> None:
        self.model = model
        self.initial = initial
        self.operations: list[Operation] = []
        self.marks: list[Mark] = []

    def op(
        self,
        client: int,
        f: str,
        input: Mapping[str, Any],
        call: float,
        ret: float,
        status: Status = "ok",
        output: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> HistoryBuilder:
        if status != "ok":
            output = None
            error = error or ("update out of sequence" if status == "fail" else "timeout")
        self.operations.append(
            Operation(
                index=len(self.operations),
                client=client,
                process=f"c{client}",
                f=f,
                input=dict(input),
                call=int(call * MS),
                returned=int(ret * MS),
                status=status,
                output=None if output is None else dict(output),
                error=error,
            )
        )
        return self

    def read(
        self, client: int, call: float, ret: float, version: int, value: str, status: Status = "ok"
    ) -> HistoryBuilder:
        return self.op(client, "read", {}, call, ret, status, {"version": version, "value": value})

    def cas(
        self,
        client: int,
        call: float,
        ret: float,
        expect: int,
        value: str,
        status: Status = "ok",
        error: str | None = None,
    ) -> HistoryBuilder:
        payload = {"expect_version": expect, "value": value}
        return self.op(client, "cas", payload, call, ret, status, {}, error)

    def create(
        self,
        client: int,
        call: float,
        ret: float,
        name: str,
        status: Status = "ok",
        existed: bool = False,
        error: str | None = None,
    ) -> HistoryBuilder:
        output = {"existed": existed}
        return self.op(client, "create", {"name": name}, call, ret, status, output, error)

    def list(
        self, client: int, call: float, ret: float, names: Sequence[str], status: Status = "ok"
    ) -> HistoryBuilder:
        return self.op(client, "list", {}, call, ret, status, {"names": list(names)})

    def mark(self, at: float, label: str) -> HistoryBuilder:
        self.marks.append(Mark(int(at * MS), label))
        return self

    def build(self) -> History:
        return History(
            model=self.model,
            operations=tuple(self.operations),
            initial=None if self.initial is None else dict(self.initial),
            marks=tuple(self.marks),
        )


def register(version: int = 10, value: str = "init") -> HistoryBuilder:
    """A CAS register that starts known: (version, value)."""
    return HistoryBuilder("cas-register", {"version": version, "value": value})


def grow_only_set(*names: str) -> HistoryBuilder:
    """A grow-only set that starts with these names (none: empty)."""
    return HistoryBuilder("grow-only-set", {"names": list(names)})
