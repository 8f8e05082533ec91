"""Snapshots encoded a record at a time (``builtin/checkpoint/snapshots.py``) are byte
for byte what the json serializer makes of the whole payload, through a run's
successive snapshots: records added, replaced, failed, secrets added between them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maverick_core.builtin.checkpoint import snapshots as snapshot_module
from maverick_core.builtin.checkpoint.journal import decode_plain, snapshot_payload
from maverick_core.builtin.checkpoint.snapshots import ColumnEncoder, column_encoder
from maverick_core.builtin.json import JsonSerializer
from maverick_core.engine.config import make_config
from maverick_core.engine.pluginmanager import make_plugin_manager
from maverick_core.engine.run import Status, StepRecord, restored_record
from maverick_core.engine.secrets import SecretMasker
from maverick_core.engine.storage import make_record

if TYPE_CHECKING:
    from pathlib import Path

SERIALIZER = JsonSerializer()


def whole(records: dict[str, StepRecord], data: dict[str, Any], masker: SecretMasker) -> bytes:
    """What the snapshot was before the encoder: the payload, encoded at once."""
    return SERIALIZER.dumps(snapshot_payload(records, data, masker))


def read_back(project: Path, body: bytes) -> dict[str, StepRecord]:
    """The records a resume reads from the snapshot ``body``."""
    config = make_config(make_plugin_manager(), project)
    record = make_record("run-1", 1, "c", "full", 1.0, "json", body)
    _payload, plains = decode_plain(config, record)
    return {path: restored_record(plain) for path, plain in plains.items()}


def test_successive_snapshots_match_the_whole_payload_and_read_back(
    maverick_project: Path,
) -> None:
    encoder = ColumnEncoder(SERIALIZER.text)
    masker = SecretMasker()
    records: dict[str, StepRecord] = {
        "each": StepRecord(Status.RUNNING, items=[0, 1, 2]),
        "each[0].work": StepRecord(Status.COMPLETED, {"ü": "ñ", "n": [1, 2.5, None]}, None, 1.5),
    }
    for step in range(1, 4):
        body = encoder.dumps(dict(records), {"k": step}, masker)
        assert body == whole(records, {"k": step}, masker)
        assert body is not None and read_back(maverick_project, body) == records
        # the next snapshot: one record replaced, one failed with attempts, one added
        records["each[0].work"] = StepRecord(Status.COMPLETED, step, None, 2.0, 0.5)
        records[f"each[{step}].work"] = StepRecord(
            Status.FAILED, None, "boom", 3.0, 1.0, attempts=[{"attempt": 1, "error": "boom"}]
        )
        records[f"each[{step}]"] = StepRecord(Status.COMPLETED, {"work": float("inf")})
    records["each"] = StepRecord(Status.COMPLETED, [1, 2, 3], items=[0, 1, 2])
    assert encoder.dumps(dict(records), {}, masker) == whole(records, {}, masker)
    assert encoder.dumps({}, {}, masker) == whole({}, {}, masker)


def test_a_secret_added_between_snapshots_is_masked_in_records_encoded_before() -> None:
    encoder = ColumnEncoder(SERIALIZER.text)
    masker = SecretMasker()
    records = {"login": StepRecord(Status.COMPLETED, {"token": "hunter22"}, None, 1.0, 0.5)}
    first = encoder.dumps(records, {}, masker)
    assert first is not None and b"hunter22" in first
    masker.add("hunter22")  # a subworkflow's secret input, known from now on
    second = encoder.dumps(records, {"seen": "hunter22"}, masker)
    assert second == whole(records, {"seen": "hunter22"}, masker)
    assert second is not None and b"hunter22" not in second


def test_a_secret_that_is_part_of_the_snapshot_layout_takes_the_whole_payload() -> None:
    masker = SecretMasker(["started_at"])  # masking would rewrite a key of the layout
    records = {"a": StepRecord(Status.COMPLETED, "started_at", None, 1.0)}
    assert ColumnEncoder(SERIALIZER.text).dumps(records, {}, masker) is None


def test_what_the_serializer_refuses_the_encoder_refuses() -> None:
    encoder = ColumnEncoder(SERIALIZER.text)
    with pytest.raises(TypeError, match="json serializer"):
        encoder.dumps({"a": StepRecord(Status.COMPLETED, {"t": (1, 2)})}, {}, SecretMasker())
    with pytest.raises(ValueError, match="not valid Unicode"):
        encoder.dumps({"a": StepRecord(Status.COMPLETED, "\ud800")}, {}, SecretMasker())


def test_only_the_json_serializer_gets_an_encoder() -> None:
    class Other:  # a serializer of another format, even with a text method
        name = "other"

        def text(self, data: Any) -> str:
            return repr(data)

    assert isinstance(column_encoder(SERIALIZER), ColumnEncoder)
    assert column_encoder(Other()) is None


plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
records_strategy = st.dictionaries(
    st.text(min_size=1, max_size=12),
    st.builds(
        StepRecord,
        st.sampled_from(list(Status)),
        plain,
        st.none() | st.text(max_size=10),
        st.floats(min_value=0, max_value=2e9),
        st.floats(min_value=0, max_value=1e4),
        st.none() | st.lists(plain, max_size=3),
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(records_strategy, st.integers(0, 20)), min_size=1, max_size=4),
    st.lists(st.text(min_size=4, max_size=6), max_size=2),
)
def test_any_sequence_of_snapshots_matches_the_whole_payload(
    steps: list[tuple[dict[str, StepRecord], int]], secrets: list[str]
) -> None:
    encoder = ColumnEncoder(SERIALIZER.text)
    masker = SecretMasker(secrets)
    state: dict[str, StepRecord] = {}
    for changes, replaced in steps:
        if state:  # a record replaced in place by an equal one (a new object)
            path = list(state)[replaced % len(state)]
            state[path] = attrs.evolve(state[path])
        state.update(changes)
        body = encoder.dumps(dict(state), {"n": len(state)}, masker)
        if body is None:  # only when a secret occurs in the text around the columns
            assert any(form in snapshot_module._FIXED for form in masker.forms)
            continue
        assert body == whole(state, {"n": len(state)}, masker)
