"""Histories of concurrent operations on the swarm's control plane: the JSON format, a
thread-safe recorder, and the outcome rules that prepare a history for the linearizability
checker (Porcupine, see ``checkers.linearizable`` and docs/consistency.md).

A history is what clients saw, not what the swarm did: each operation has a client id, what it
asked (``f`` and ``input``), when it was called and when it returned on one monotonic clock
(nanoseconds since the recorder started), and its outcome:

- ``ok``: acknowledged, with its ``output``;
- ``fail``: certainly not applied (a documented refusal such as "update out of sequence");
- ``info``: unknown (a timeout, a dropped connection): it may or may not have been applied.

Two recording rules keep a history checkable: a client never has two operations in flight, and
after an ``info`` outcome the client goes on under a new client id (its old operation may still
take effect at any later time). Written values are unique, so a read names the write it saw.

Preparing (``prepare``) applies the outcome rules of the anchors. Failed and unknown reads are
dropped (they observed nothing); failed writes are dropped (certainly not applied). An unknown
write returns at infinity: it took effect at some point after its call, or never. Two
consequences of unique values make that cheap to check and change no verdict: an unknown write
whose value no read shows is dropped (it can take effect last, where nothing observes it), and
one that a read shows did take effect, before the first such read returned, which becomes its
return time. Without the first, Porcupine's search blows up: a 2,000-operation set history
with 32 unseen unknown creates was still undecided after 120 s (5 ms without them); the second
took one with 138 seen ones from 0.67 s to 0.42 s. A failed write whose value a read shows was
applied after all (the control API's proxy re-sends a write to a new leader after a connection
error, so an applied update can come back "update out of sequence"): it is checked as unknown
and reported as a false failure.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from swarmcheck.errors import CheckerError

HISTORY_FORMAT = "swarmcheck-history/1"
CHECKER_INPUT_FORMAT = "swarmcheck-checker-input/1"

Status = Literal["ok", "fail", "info"]
STATUSES: tuple[Status, ...] = ("ok", "fail", "info")
JSONObject = Mapping[str, Any]


@dataclass(frozen=True)
class ModelSpec:
    """What a model's operations are: which read, which write and under which unique field."""

    name: str
    reads: frozenset[str]
    writes: Mapping[str, str]  # f -> the input field holding its unique value
    summary: str

    @property
    def functions(self) -> frozenset[str]:
        return self.reads | frozenset(self.writes)


CAS_REGISTER = ModelSpec(
    "cas-register",
    reads=frozenset({"read"}),
    writes={"cas": "value"},
    summary="read -> {version, value}; cas {expect_version, value} -> {}",
)
GROW_ONLY_SET = ModelSpec(
    "grow-only-set",
    reads=frozenset({"list"}),
    writes={"create": "name"},
    summary="create {name} -> {existed}; list -> {names}",
)
MODELS: Mapping[str, ModelSpec] = {m.name: m for m in (CAS_REGISTER, GROW_ONLY_SET)}


@dataclass(frozen=True)
class Operation:
    """One operation as a client saw it. ``returned`` is JSON's ``return``; in a prepared
    history it is None for an unknown write (it returns at infinity)."""

    index: int
    client: int
    process: str
    f: str
    input: JSONObject
    call: int
    returned: int | None
    status: Status
    output: JSONObject | None = None
    error: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "client": self.client,
            "process": self.process,
            "f": self.f,
            "input": dict(self.input),
            "call": self.call,
            "return": self.returned,
            "status": self.status,
            "output": None if self.output is None else dict(self.output),
            "error": self.error,
        }
        if self.note is not None:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class Mark:
    """A moment worth seeing next to the operations, e.g. ``fault on: pause leader m1``."""

    time: int
    label: str


@dataclass(frozen=True)
class History:
    """A recorded history (format ``swarmcheck-history/1``, see docs/consistency.md)."""

    model: str
    operations: tuple[Operation, ...]
    initial: JSONObject | None = None
    marks: tuple[Mark, ...] = ()
    meta: JSONObject = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": HISTORY_FORMAT,
            "model": self.model,
            "initial": None if self.initial is None else dict(self.initial),
            "clock": "nanoseconds since the recorder started (one monotonic clock)",
            "meta": dict(self.meta),
            "marks": [{"time": m.time, "label": m.label} for m in self.marks],
            "operations": [op.to_json() for op in self.operations],
        }

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path

    def mark_time(self, label: str) -> int:
        """The time of the first mark with this label (CheckerError if there is none)."""
        for mark in self.marks:
            if mark.label == label:
                return mark.time
        raise CheckerError(
            f"the history has no mark {label!r} (marks: {[m.label for m in self.marks]})"
        )


# --- reading and validating -------------------------------------------------------------------


def load_history(path: Path) -> History:
    """Read a history file; a clear CheckerError says what is wrong with a bad one."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise CheckerError(f"cannot read the history {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CheckerError(f"{path} is not JSON: {exc}") from exc
    try:
        return history_from_json(data)
    except CheckerError as exc:
        raise CheckerError(f"{path}: {exc}") from exc


def history_from_json(data: object) -> History:
    """A History from its JSON form, validated (``validate``)."""
    if not isinstance(data, dict):
        raise CheckerError("a history is a JSON object")
    if data.get("format") != HISTORY_FORMAT:
        raise CheckerError(
            f"format is {data.get('format')!r}, expected {HISTORY_FORMAT!r} "
            "(a history written by swarmcheck's HistoryRecorder; see docs/consistency.md)"
        )
    raw_ops = data.get("operations")
    if not isinstance(raw_ops, list):
        raise CheckerError("operations must be a list")
    operations = tuple(_operation_from_json(i, raw) for i, raw in enumerate(raw_ops))
    marks = tuple(_mark_from_json(raw) for raw in _list(data.get("marks", []), "marks"))
    initial = data.get("initial")
    if initial is not None and not isinstance(initial, dict):
        raise CheckerError("initial must be an object or null")
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise CheckerError("meta must be an object")
    history = History(
        model=_text(data.get("model"), "model"),
        operations=operations,
        initial=initial,
        marks=marks,
        meta=meta,
    )
    validate(history)
    return history


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise CheckerError(f"{what} must be a list")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise CheckerError(f"{what} must be a non-empty string, not {value!r}")
    return value


def _integer(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CheckerError(f"{what} must be an integer, not {value!r}")
    return value


def _mark_from_json(raw: object) -> Mark:
    if not isinstance(raw, dict):
        raise CheckerError(f"a mark is an object with time and label, not {raw!r}")
    return Mark(_integer(raw.get("time"), "a mark's time"), _text(raw.get("label"), "label"))


def _operation_from_json(position: int, raw: object) -> Operation:
    where = f"operation {position}"
    if not isinstance(raw, dict):
        raise CheckerError(f"{where} is not an object")
    status = raw.get("status")
    if status not in STATUSES:
        raise CheckerError(f"{where}: status must be one of {', '.join(STATUSES)}, not {status!r}")
    returned = raw.get("return")
    input_ = raw.get("input", {})
    output = raw.get("output")
    if not isinstance(input_, dict):
        raise CheckerError(f"{where}: input must be an object")
    if output is not None and not isinstance(output, dict):
        raise CheckerError(f"{where}: output must be an object or null")
    error, note = raw.get("error"), raw.get("note")
    return Operation(
        index=_integer(raw.get("index", position), f"{where}: index"),
        client=_integer(raw.get("client"), f"{where}: client"),
        process=str(raw.get("process", "")),
        f=_text(raw.get("f"), f"{where}: f"),
        input=input_,
        call=_integer(raw.get("call"), f"{where}: call"),
        returned=None if returned is None else _integer(returned, f"{where}: return"),
        status=cast(Status, status),
        output=output,
        error=None if error is None else str(error),
        note=None if note is None else str(note),
    )


def validate(history: History) -> None:
    """Raise CheckerError naming every rule a history breaks (the first few of each kind):
    a known model and operation names, call <= return, an output for every acknowledged
    operation in the model's shape, indexes 0..n-1, one operation in flight per client and none
    after an ``info``, and unique written values."""
    spec = MODELS.get(history.model)
    if spec is None:
        raise CheckerError(f"unknown model {history.model!r} (known: {', '.join(MODELS)})")
    problems = list(_initial_problems(spec, history.initial))
    for position, op in enumerate(history.operations):
        problems.extend(_operation_problems(spec, position, op))
    problems.extend(_client_problems(history.operations))
    problems.extend(_uniqueness_problems(spec, history))
    if problems:
        shown = problems[:10]
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise CheckerError(
            f"the {history.model} history breaks {len(problems)} rule(s):\n  "
            + "\n  ".join(shown)
            + more
        )


def _operation_problems(spec: ModelSpec, position: int, op: Operation) -> Iterator[str]:
    where = f"operation #{op.index} ({op.f} by {op.process or 'client ' + str(op.client)})"
    if op.index != position:
        yield f"operation at position {position} has index {op.index}: indexes run 0..n-1"
    if op.f not in spec.functions:
        yield f"{where}: a {spec.name} has {', '.join(sorted(spec.functions))} operations"
        return
    if op.returned is None:
        yield f"{where}: no return time (record when the client got its answer or gave up)"
    elif op.returned < op.call:
        yield f"{where}: returns ({op.returned}) before its call ({op.call})"
    unique = spec.writes.get(op.f)
    if unique is not None and not isinstance(op.input.get(unique), str):
        yield f"{where}: input needs a string {unique!r}"
    if op.f == "cas" and not _is_int(op.input.get("expect_version")):
        yield f"{where}: input needs an integer 'expect_version'"
    if op.status != "ok":
        return
    if op.output is None:
        yield f"{where}: an ok operation needs an output"
    elif op.f == "read" and not (
        _is_int(op.output.get("version")) and isinstance(op.output.get("value"), str)
    ):
        yield f"{where}: a read's output is {{version: int, value: str}}, not {dict(op.output)}"
    elif op.f == "list" and not (
        isinstance(op.output.get("names"), list)
        and all(isinstance(n, str) for n in op.output["names"])
    ):
        yield f"{where}: a list's output is {{names: [str, ...]}}, not {dict(op.output)}"


def _initial_problems(spec: ModelSpec, initial: JSONObject | None) -> Iterator[str]:
    if initial is None:
        return
    if spec is CAS_REGISTER and not (
        _is_int(initial.get("version")) and isinstance(initial.get("value"), str)
    ):
        yield f"a cas-register's initial is {{version: int, value: str}} or null, not {initial}"
    names = initial.get("names")
    if spec is GROW_ONLY_SET and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        yield f"a grow-only-set's initial is {{names: [str, ...]}} or null, not {initial}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _client_problems(operations: Sequence[Operation]) -> Iterator[str]:
    by_client: dict[int, list[Operation]] = {}
    for op in operations:
        by_client.setdefault(op.client, []).append(op)
    for client, ops in sorted(by_client.items()):
        ops.sort(key=lambda o: o.call)
        for before, after in itertools.pairwise(ops):
            if before.status == "info":
                yield (
                    f"client {client}: #{after.index} follows #{before.index}, whose outcome is "
                    "unknown (info); a client goes on under a new client id after an info"
                )
            elif before.returned is not None and after.call < before.returned:
                yield (
                    f"client {client}: #{after.index} was called while #{before.index} was in "
                    "flight; a client has one operation in flight at a time"
                )


def _uniqueness_problems(spec: ModelSpec, history: History) -> Iterator[str]:
    written: Counter[str] = Counter()
    for op in history.operations:
        unique = spec.writes.get(op.f)
        if unique is not None and isinstance(op.input.get(unique), str):
            written[op.input[unique]] += 1
    initial = _initial_values(spec, history.initial)
    for value, count in sorted(written.items()):
        if count > 1:
            yield f"the value {value!r} is written {count} times: written values must be unique"
        if value in initial:
            yield f"the value {value!r} is written but is already in the initial state"


def _initial_values(spec: ModelSpec, initial: JSONObject | None) -> set[str]:
    if initial is None:
        return set()
    if spec is CAS_REGISTER:
        return {str(initial.get("value"))}
    return {str(n) for n in initial.get("names", [])}


# --- recording --------------------------------------------------------------------------------


class PendingOperation:
    """An operation in flight: give its outcome once, right after the answer (or the giving up):
    ``ok(output)``, ``fail(error)`` (certainly not applied) or ``info(error)`` (unknown)."""

    def __init__(self, recorder: HistoryRecorder, client: RecordingClient, index: int) -> None:
        self._recorder = recorder
        self._client = client
        self.index = index
        self.done = False

    def ok(self, output: JSONObject | None = None) -> None:
        self._finish("ok", dict(output or {}), None)

    def fail(self, error: str) -> None:
        self._finish("fail", None, error)

    def info(self, error: str) -> None:
        self._finish("info", None, error)

    def _finish(self, status: Status, output: JSONObject | None, error: str | None) -> None:
        if self.done:
            raise CheckerError(f"operation #{self.index} already has its outcome")
        self.done = True
        self._recorder._finish(self._client, self.index, status, output, error)


class RecordingClient:
    """One logical client (a workload thread bound to one manager). Its client id changes after
    an unknown outcome; ``process`` (e.g. the manager's name) stays."""

    def __init__(self, recorder: HistoryRecorder, process: str, client_id: int) -> None:
        self._recorder = recorder
        self.process = process
        self.client_id = client_id
        self.in_flight: int | None = None

    def begin(self, f: str, input: JSONObject | None = None) -> PendingOperation:
        """Record the call now; the caller must give the outcome (prefer ``op``)."""
        return self._recorder._begin(self, f, dict(input or {}))

    @contextlib.contextmanager
    def op(self, f: str, input: JSONObject | None = None) -> Iterator[PendingOperation]:
        """``with client.op("cas", {...}) as op: ...; op.ok()``. An exception that leaves the
        block without an outcome records ``info`` (unknown) and propagates; a block that ends
        without an outcome records ``info`` and raises CheckerError (a workload bug)."""
        pending = self.begin(f, input)
        try:
            yield pending
        except BaseException as exc:
            if not pending.done:
                pending.info(f"{type(exc).__name__}: {exc}")
            raise
        if not pending.done:
            pending.info("the workload gave no outcome")
            raise CheckerError(
                f"operation #{pending.index} ({f} by {self.process}) ended without an outcome: "
                "call op.ok(output), op.fail(error) or op.info(error) in the block"
            )


@dataclass
class _Open:
    client: RecordingClient
    client_id: int
    f: str
    input: JSONObject
    call: int


class HistoryRecorder:
    """Records a history from several threads on one monotonic clock (``clock`` returns
    nanoseconds; times are kept relative to the recorder's start).

    ``client(process)`` gives a RecordingClient; ``mark(label)`` notes a moment (a fault on or
    off); ``history()`` takes a snapshot, in which operations still in flight are ``info``.
    """

    def __init__(
        self,
        model: str,
        *,
        initial: JSONObject | None = None,
        meta: JSONObject | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if model not in MODELS:
            raise CheckerError(f"unknown model {model!r} (known: {', '.join(MODELS)})")
        self.spec = MODELS[model]
        self.initial = None if initial is None else dict(initial)
        self.meta = dict(meta or {})
        self._clock = clock
        self._origin = clock()
        self._lock = threading.Lock()
        self._next_client = 0
        self._open: dict[int, _Open] = {}
        self._done: dict[int, Operation] = {}
        self._next_index = 0
        self._marks: list[Mark] = []
        self._written = _initial_values(self.spec, self.initial)

    def now(self) -> int:
        """Nanoseconds since the recorder started."""
        return self._clock() - self._origin

    def client(self, process: str) -> RecordingClient:
        with self._lock:
            client = RecordingClient(self, process, self._next_client)
            self._next_client += 1
            return client

    def mark(self, label: str, ago_s: float = 0.0) -> int:
        """Note a moment: now, or ``ago_s`` seconds ago (a fault that began before the code
        that marks it learnt of it). Marks stay in time order."""
        with self._lock:
            moment = self.now() - round(ago_s * 1e9)
            self._marks.append(Mark(moment, label))
            self._marks.sort(key=lambda m: m.time)
            return moment

    def _begin(self, client: RecordingClient, f: str, input: JSONObject) -> PendingOperation:
        if f not in self.spec.functions:
            raise CheckerError(
                f"{f!r} is not an operation of a {self.spec.name} "
                f"({', '.join(sorted(self.spec.functions))})"
            )
        unique = self.spec.writes.get(f)
        with self._lock:
            if client.in_flight is not None:
                raise CheckerError(
                    f"{client.process} (client {client.client_id}) called {f} while operation "
                    f"#{client.in_flight} was in flight: one operation at a time per client"
                )
            if unique is not None:
                value = input.get(unique)
                if not isinstance(value, str):
                    raise CheckerError(f"{f} needs a string {unique!r} in its input")
                if value in self._written:
                    raise CheckerError(f"{value!r} was written before: written values are unique")
                self._written.add(value)
            index = self._next_index
            self._next_index += 1
            client.in_flight = index
            self._open[index] = _Open(client, client.client_id, f, input, self.now())
            return PendingOperation(self, client, index)

    def _finish(
        self,
        client: RecordingClient,
        index: int,
        status: Status,
        output: JSONObject | None,
        error: str | None,
    ) -> None:
        returned = self.now()
        with self._lock:
            opened = self._open.pop(index)
            self._done[index] = self._closed(index, opened, returned, status, output, error)
            client.in_flight = None
            if status == "info":  # its effect may still come: the client goes on as another
                client.client_id = self._next_client
                self._next_client += 1

    def _closed(
        self,
        index: int,
        opened: _Open,
        returned: int,
        status: Status,
        output: JSONObject | None,
        error: str | None,
    ) -> Operation:
        return Operation(
            index=index,
            client=opened.client_id,
            process=opened.client.process,
            f=opened.f,
            input=opened.input,
            call=opened.call,
            returned=returned,
            status=status,
            output=output,
            error=error,
        )

    def history(self) -> History:
        """A snapshot; operations still in flight appear with an unknown outcome."""
        with self._lock:
            moment = self.now()
            operations = dict(self._done)
            for index, opened in self._open.items():
                operations[index] = self._closed(
                    index,
                    opened,
                    moment,
                    "info",
                    None,
                    "still in flight when the history was taken",
                )
            return History(
                model=self.spec.name,
                operations=tuple(operations[i] for i in sorted(operations)),
                initial=self.initial,
                marks=tuple(self._marks),
                meta=dict(self.meta),
            )


# --- outcome rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FalseFailure:
    """A write reported failed whose unique value a read showed later: it was applied."""

    index: int
    value: str
    error: str | None
    seen_by: int

    def __str__(self) -> str:
        return (
            f"#{self.index} wrote {self.value!r} and was reported failed ({self.error}), "
            f"but #{self.seen_by} shows that value: it was applied"
        )


@dataclass(frozen=True)
class Prepared:
    """A history after the outcome rules: the operations the checker judges (an unknown write
    keeps status ``info``, returning when the first read that shows it returned), what was
    dropped and why, and the false failures found."""

    history: History
    operations: tuple[Operation, ...]
    dropped: tuple[tuple[Operation, str], ...]
    false_failures: tuple[FalseFailure, ...]

    def checker_input(self) -> dict[str, Any]:
        """The history checker's input (format ``swarmcheck-checker-input/1``)."""
        return {
            "format": CHECKER_INPUT_FORMAT,
            "model": self.history.model,
            "initial": self.history.initial,
            "operations": [op.to_json() for op in self.operations],
            "annotations": self._annotations(),
        }

    def _annotations(self) -> list[dict[str, Any]]:
        """What the visualization shows beside the checked operations: marks on their own
        row, dropped operations on their client's row."""
        rows = [_annotation(None, "marks", m.time, m.time, m.label) for m in self.history.marks]
        for op, why in self.dropped:
            details = f"#{op.index}: {why}" + (f" [{op.error}]" if op.error else "")
            end = op.returned if op.returned is not None else op.call
            rows.append(_annotation(op.client, "", op.call, end, f"{op.f} {op.status}", details))
        return rows


def _annotation(
    client: int | None, tag: str, start: int, end: int, description: str, details: str = ""
) -> dict[str, Any]:
    return {
        "client": client,
        "tag": tag,
        "start": start,
        "end": end,
        "description": description,
        "details": details,
    }


UNSEEN_UNKNOWN_WRITE = (
    "an unknown write whose value no read shows: it may take effect last, where nothing "
    "observes it, so checking it changes no verdict"
)
FAILED_WRITE = "a failed write is certainly not applied"


def prepare(history: History) -> Prepared:
    """Apply the outcome rules (see the module docstring) to a valid history."""
    validate(history)
    spec = MODELS[history.model]
    seen = _first_observers(spec, history.operations)
    kept: list[Operation] = []
    dropped: list[tuple[Operation, str]] = []
    false_failures: list[FalseFailure] = []
    for op in history.operations:
        unique = spec.writes.get(op.f)
        if unique is None:  # a read: only what it saw counts
            if op.status == "ok":
                kept.append(op)
            else:
                dropped.append((op, f"a read that did not succeed ({op.status}) observed nothing"))
            continue
        value = str(op.input[unique])
        observer = seen.get(value)
        if op.status == "ok":
            kept.append(op)
        elif observer is None:
            why = UNSEEN_UNKNOWN_WRITE if op.status == "info" else FAILED_WRITE
            dropped.append((op, why))
        else:
            note = f"#{observer.index} shows its value"
            if op.status == "fail":
                false_failures.append(FalseFailure(op.index, value, op.error, observer.index))
                note = f"reported failed, but #{observer.index} shows its value: it took effect"
            # applied, and before the read that shows it returned: that is its latest return
            # (a read that returned before the write was called shows a value from the future:
            # the write keeps no return, and the checker finds the contradiction)
            returned = observer.returned if (observer.returned or 0) >= op.call else None
            kept.append(replace(op, status="info", returned=returned, output=None, note=note))
    return Prepared(history, tuple(kept), tuple(dropped), tuple(false_failures))


def _first_observers(spec: ModelSpec, operations: Sequence[Operation]) -> dict[str, Operation]:
    """Value -> the acknowledged read that shows it and returned first."""
    seen: dict[str, Operation] = {}
    for op in sorted(operations, key=lambda o: o.returned or 0):
        if op.status != "ok" or op.output is None or op.f not in spec.reads:
            continue
        values = [op.output["value"]] if op.f == "read" else op.output["names"]
        for value in values:
            seen.setdefault(str(value), op)
    return seen


# --- figures for reports ----------------------------------------------------------------------


def outcome_counts(history: History) -> dict[str, dict[str, int]]:
    """``{f: {"ok": n, "fail": n, "info": n}}`` plus ``"all"``: what a report shows per fault."""
    counts: dict[str, dict[str, int]] = {}
    for op in history.operations:
        for key in (op.f, "all"):
            row = counts.setdefault(key, dict.fromkeys(STATUSES, 0))
            row[op.status] += 1
    return counts


def calls_by_phase(history: History, start: int, end: int) -> dict[str, int]:
    """How many operations were called before ``start``, between it and ``end``, and after:
    a check under a fault asserts the history spreads over all three."""
    phases = {"before": 0, "during": 0, "after": 0}
    for op in history.operations:
        phase = "before" if op.call < start else "during" if op.call <= end else "after"
        phases[phase] += 1
    return phases
