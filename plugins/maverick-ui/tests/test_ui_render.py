"""The run page renders what ``describe_run`` returns: steps, states, agents, attempts."""

from __future__ import annotations

from typing import Any

from maverick_ui.app import templates
from maverick_ui.render import steps_of
from maverick_ui.timeline import layout

DESCRIBED: dict[str, Any] = {
    "run_id": "fly-1",
    "workflow": "fly",
    "source": "/nowhere/fly.yaml",
    "status": "failed",
    "created_at": 100.0,
    "updated_at": 200.0,
    "inputs": {"branch_name": "x"},
    "secret_inputs": ["token"],
    "error": "step 'review' failed",
    "outputs": {"pull_request": "https://example.org/pr/7", "report": "r.md"},
    "attempts": [
        {"number": 1, "started_at": 100.0, "ended_at": 110.0, "outcome": "interrupted",
         "resumed_from": None, "pid": 11, "host": "box", "duration": 10.0},
        {"number": 2, "started_at": 190.0, "ended_at": 200.0, "outcome": "failed",
         "resumed_from": "phase_1_complete", "pid": 12, "host": "box", "duration": 10.0},
    ],
    "steps": {
        "plan": {"name": "plan", "depth": 0, "status": "completed", "state": "restored",
                 "restored": True, "started_at": 101.0, "duration": 2.0, "output": {"n": 1}},
        "phases": {"name": "phases", "depth": 0, "status": "running", "state": "failed",
                   "restored": False, "started_at": 191.0, "duration": 5.0},
        "phases[0]": {"name": "[0]", "depth": 1, "status": "completed", "state": "done",
                      "started_at": 191.0, "duration": 4.0},
        "phases[0].implement": {
            "name": "implement", "depth": 2, "status": "completed", "state": "done",
            "started_at": 191.0, "duration": 4.0, "output": "edited",
            "agent": {"activity": [{"kind": "edit", "detail": "calc/ops.py"}],
                      "calls": [{"cost_usd": 0.25}], "cost_usd": 0.25},
        },
        "review": {"name": "review", "depth": 0, "status": "failed", "state": "failed",
                   "started_at": 196.0, "duration": 4.0, "error": "reviewer gave up"},
        "pr": {"name": "pr", "depth": 0, "status": None, "state": "not_reached"},
    },
    "checkpoints": [{"seq": 1, "checkpoint_id": "phase_1_complete", "created_at": 105.0,
                     "kind": "delta", "size": 10, "intact": True}],
    "totals": {"duration": 20.0, "cost_usd": 0.25, "steps": {}, "agent_calls": 1},
    "resume_command": "maverick fly --resume fly-1",
    "state_from": "final",
}  # fmt: skip


def test_describe_runs_steps_become_rows_in_workflow_order_with_their_state() -> None:
    steps = steps_of(DESCRIBED)
    assert [s["path"] for s in steps] == [
        "plan", "phases", "phases[0]", "phases[0].implement", "review", "pr"
    ]  # fmt: skip
    assert [s["shown"] for s in steps] == [
        "restored", "failed", "done", "done", "failed", "not_reached"
    ]  # fmt: skip


def test_the_run_body_shows_every_part_of_a_description() -> None:
    from maverick_ui.render import digest

    steps = steps_of(DESCRIBED)
    context = {
        **DESCRIBED,
        "steps": steps,
        "digest": digest(DESCRIBED),
        "duration": 20.0,
        "cost_usd": 0.25,
        "timeline": layout(DESCRIBED["attempts"], steps, DESCRIBED["checkpoints"]),
        "mermaid": None,
        "diagram_note": "No diagram.",
    }
    html = templates().get_template("run_body.html").render(run=context)
    assert '<a href="https://example.org/pr/7" rel="noopener noreferrer"' in html
    assert "maverick fly --resume fly-1" in html
    assert "$0.25" in html and "calc/ops.py" in html and "reviewer gave up" in html
    assert html.count('class="segment ') == 2 and html.count('class="checkpoint-marker"') == 1
    assert 'class="bar bar-restored' in html and 'data-path="phases[0].implement"' in html
    assert "resumed from" in html and "phase_1_complete" in html
    assert "secret: never stored, never shown" in html
