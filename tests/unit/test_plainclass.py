"""Classes written out instead of attrs behave as their attrs versions did.

Each converted class is checked against an attrs class of the same name and fields:
the same repr, equality and hash (frozen ones), the same error on assignment, pickling
and copying, and the same plain data when a step returns one.
"""

from __future__ import annotations

import copy
import pickle
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from maverick_core.engine.context import Scope, StepContext
from maverick_core.engine.dsl.model import InputSpec, Retry, ShellStep, Workflow
from maverick_core.engine.errors import StepFailed
from maverick_core.engine.normalize import normalize
from maverick_core.engine.plainclass import attrs_repr
from maverick_core.engine.processes import CommandResult
from maverick_core.engine.run import CheckpointInfo, RunOutcome, RunRequest, Status, StepRecord
from maverick_core.engine.runquery import RunPage, RunQuery
from maverick_core.engine.storage import (
    CheckpointRecord,
    DamagedRecord,
    LockHolder,
    Project,
    RunRecord,
)

if TYPE_CHECKING:
    from maverick_core.engine.plainclass import FrozenClass, PlainClass

FROZEN: list[tuple[type[FrozenClass], dict[str, Any]]] = [
    (CommandResult, {"returncode": 1, "stdout": "out", "stderr": "", "timed_out": True}),
    (Project, {"root": Path("/p"), "name": "github.com/o/r"}),
    (DamagedRecord, {"run_id": "r", "position": "seg-1:40", "reason": "torn"}),
    (
        CheckpointInfo,
        {"checkpoint_id": "c", "seq": 3, "size": 120, "duration": 0.5, "created_at": 9.0},
    ),
    (
        RunOutcome,
        {"status": Status.FAILED, "outputs": {"a": 1}, "error": "x", "duration": 2.0},
    ),
    (RunRequest, {"workflow": "wf", "inputs": {"n": 1}, "given_inputs": frozenset({"n"})}),
    (LockHolder, {"pid": 7, "host": "h", "acquired_at": 1.0, "token": "t", "started_at": 2.0}),
    (
        CheckpointRecord,
        {
            "run_id": "r",
            "seq": 2,
            "checkpoint_id": "c",
            "kind": "delta",
            "created_at": 1.5,
            "serializer": "json",
            "payload": b"{}",
            "checksum": "ab",
        },
    ),
]


def attrs_twin(cls: type[PlainClass], frozen: bool) -> type:
    """An attrs class of the same name and fields (all with defaults, in order)."""
    namespace = {name: attrs.field(default=None) for name in cls._FIELDS}
    twin = type(cls.__name__, (), namespace)
    twin.__qualname__ = cls.__qualname__
    return attrs.frozen(twin) if frozen else attrs.define(eq=False)(twin)


def full_values(cls: type[FrozenClass], given: dict[str, Any]) -> dict[str, Any]:
    """Every field's value: those given, and the defaults of ``cls`` for the others."""
    instance = cls(**given)
    return dict(zip(cls._FIELDS, instance._values(), strict=True))


@pytest.mark.parametrize(("cls", "given"), FROZEN, ids=lambda v: getattr(v, "__name__", ""))
def test_a_frozen_class_is_shown_compared_and_hashed_as_its_attrs_version(
    cls: type[FrozenClass], given: dict[str, Any]
) -> None:
    values = full_values(cls, given)
    ours, theirs = cls(**given), attrs_twin(cls, frozen=True)(**values)
    assert repr(ours) == repr(theirs)
    assert ours == cls(**given)
    assert ours != theirs  # another class, as two attrs classes are
    changed = {**values, cls._FIELDS[0]: "other"}
    assert ours != cls(**changed)
    if all(isinstance(v, str | int | float | Path | frozenset) for v in values.values()):
        assert hash(ours) == hash(cls(**given))
        assert len({ours, cls(**given)}) == 1


@pytest.mark.parametrize(("cls", "given"), FROZEN, ids=lambda v: getattr(v, "__name__", ""))
def test_a_frozen_class_refuses_assignment_and_survives_pickle_and_copy(
    cls: type[FrozenClass], given: dict[str, Any]
) -> None:
    ours = cls(**given)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(ours, cls._FIELDS[0], "changed")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        delattr(ours, cls._FIELDS[0])
    with pytest.raises(AttributeError):
        ours.undeclared = 1  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(ours)) == ours
    assert copy.copy(ours) == ours and copy.deepcopy(ours) == ours


@pytest.mark.parametrize(("cls", "given"), FROZEN[:4], ids=lambda v: getattr(v, "__name__", ""))
def test_a_step_output_holding_one_is_the_same_plain_data_as_its_attrs_version(
    cls: type[FrozenClass], given: dict[str, Any]
) -> None:
    values = full_values(cls, given)
    twin = attrs_twin(cls, frozen=True)(**values)
    assert normalize({"value": cls(**given)}, "out") == normalize({"value": twin}, "out")


def test_a_plain_class_is_shown_as_its_attrs_version_and_compared_by_identity() -> None:
    scope = Scope("wf", {"n": 1}, {"id": "r"}, "each[0]", item=3, index=0)
    twin = attrs_twin(Scope, frozen=False)(**dict(zip(Scope._FIELDS, scope._values(), strict=True)))
    assert repr(scope) == repr(twin)
    assert scope != Scope("wf", {"n": 1}, {"id": "r"}, "each[0]", item=3, index=0)
    assert scope.iteration("each[1]", 4, 1).parent is scope
    scope.prefix = "changed"  # mutable, as attrs.define made it
    assert scope.prefix == "changed"


def test_each_step_context_has_its_own_checkpoint_and_attempt_lists() -> None:
    scope = Scope("wf", {}, {})
    first, second = (StepContext(None, scope, p, "step") for p in ("a", "b"))  # type: ignore[arg-type]
    first.request_checkpoint("done")
    first.attempts.append({"attempt": 1})
    assert (second.checkpoints, second.attempts) == ([], [])
    assert first.checkpoints == ["done"]


def test_a_lock_holder_is_its_pid_host_and_token_whenever_its_process_started() -> None:
    holder = LockHolder(7, "h", 1.0, "t", started_at=2.0)
    assert holder == LockHolder(7, "h", 1.0, "t", started_at=None)
    assert hash(holder) == hash(LockHolder(7, "h", 1.0, "t"))
    assert holder != LockHolder(8, "h", 1.0, "t", started_at=2.0)
    twin = attrs.frozen(
        type(
            "LockHolder",
            (),
            {
                **{name: attrs.field(default=None) for name in LockHolder._FIELDS[:-1]},
                "started_at": attrs.field(default=None, eq=False),
            },
        )
    )(7, "h", 1.0, "t", 2.0)
    assert holder.to_plain() == attrs.asdict(twin)


def test_run_outcomes_do_not_share_their_default_outputs() -> None:
    first, second = RunOutcome(Status.COMPLETED), RunOutcome(Status.COMPLETED)
    first.outputs["x"] = 1
    assert second.outputs == {} and first != second


def test_a_plain_class_in_a_step_output_is_walked_as_attrs_classes_are() -> None:
    scope = Scope("wf", {"n": 1}, {}, item=[1])
    assert normalize(scope, "out")["item"] == [1]
    scope.item = threading.Lock()  # what it holds must be plain data
    with pytest.raises(StepFailed, match=r"out\.item"):
        normalize(scope, "out")


WRITTEN_REPR = [
    ShellStep(name="a", type="shell", command="echo", env={"A": "b"}, timeout=2.0),
    Workflow(version="1.0", name="w", steps=[], inputs={"n": InputSpec(type="integer")}),
    Retry(max_attempts=2, on=["timeout"]),
    StepRecord(Status.FAILED, None, "boom", attempts=[{"attempt": 1}]),
    RunRecord("r", "w", "wf.yaml", "p", "running", 1.0, 2.0, inputs={"n": 1}),
    RunQuery(workflow="w", limit=3),
    RunPage(runs=[], next_cursor="c"),
]


@pytest.mark.parametrize("value", WRITTEN_REPR, ids=lambda v: type(v).__name__)
def test_an_attrs_class_with_the_written_repr_is_shown_as_attrs_shows_it(value: Any) -> None:
    cls = type(value)
    twin = attrs.make_class(
        cls.__name__, {f.name: attrs.field(repr=f.repr) for f in attrs.fields(cls)}
    )
    values = {f.name: getattr(value, f.name) for f in attrs.fields(cls)}
    assert cls.__repr__ is attrs_repr
    assert repr(value) == repr(twin(**values))
