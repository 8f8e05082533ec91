"""``maverick fly`` on real git repositories: phases, fixes, pushes, PRs, crash and resume."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.fixtures.support import (
    Maverick,
    end_state,
    git,
    history,
    make_repo,
    outputs,
    settings,
)

TASKS = """\
# Tasks: Widget

## Phase 1: Setup
**Purpose**: the skeleton.
- [ ] T001 Create the first module
- [ ] T002 [P] Create the second module

## Phase 2: Core
- [ ] T003 Implement the core

## Phase 3: Polish
- [ ] T004 Polish it
"""


def fly_repo(tmp_path: Path, name: str = "repo", tasks: str = TASKS, yaml: str = "") -> Maverick:
    return Maverick(make_repo(tmp_path / name, {"tasks.md": tasks}, yaml or settings()))


def test_fly_commits_each_phase_pushes_reviews_and_opens_a_pull_request(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    result = mav.run("fly", "--branch-name", "feature", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    out = outputs(result.stdout)
    assert out["phases"] == 3 and out["pushed"] is True
    assert out["recommendation"] == "approve"
    assert out["pull_request"] == ".maverick/prs/feature.md"

    repo = mav.repo
    subjects = [subject for subject, _ in history(repo, "feature")]
    assert subjects == ["Phase 1: Setup", "Phase 2: Core", "Phase 3: Polish"]
    phase_1 = git(repo, "show", "--name-only", "--format=%B", "feature~2")
    assert "src/t001.py" in phase_1 and "src/t002.py" in phase_1 and "t003" not in phase_1
    assert "- T001 Create the first module" in phase_1 and "Maverick-Phase: 1" in phase_1
    origin = repo.parent / "origin.git"
    assert git(repo, "rev-parse", "feature") == git(origin, "rev-parse", "feature")
    assert "- [x] T004 Polish it" in git(repo, "show", "feature:tasks.md")
    assert git(repo, "status", "--porcelain", "--", ":/", ":(exclude).maverick") == ""

    pr = (repo / ".maverick" / "prs" / "feature.md").read_text()
    assert "title: Widget" in pr and "head: feature" in pr and "base: main" in pr
    assert "- Phase 2: Core - validation passed (compile; 1 attempt(s))" in pr
    report = (repo / out["report"]).read_text()
    assert "Recommendation: **approve**" in report and "src/t003.py" in report
    assert mav.counts("start") == {
        "implementer:phase-1": 1,
        "implementer:phase-2": 1,
        "implementer:phase-3": 1,
        "reviewer:round-1": 1,
    }
    prompt = mav.prompt("implementer", "phase-2")
    assert "## Phase 2: Core" in prompt and "- [ ] T003 Implement the core" in prompt
    assert "T001" not in prompt and "T004" not in prompt and "Polish" not in prompt
    assert "src/t003.py" in mav.prompt("reviewer", "round-1")


def test_fly_killed_during_phase_2_resumes_to_the_same_end_state(tmp_path: Path) -> None:
    baseline = fly_repo(tmp_path, "baseline")
    assert baseline.run("fly", "--branch-name", "feature").returncode == 0

    mav = fly_repo(tmp_path, "killed")
    mav.run_killed("fly", "--branch-name", "feature", hang="implementer:phase-2")
    explained = mav.run("fly", "--resume", "--explain")
    assert "resumes after checkpoint 'phase_1_complete'" in explained.stdout
    resumed = mav.run("fly", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "restored" in resumed.stdout

    assert end_state(mav.repo, ["feature"]) == end_state(baseline.repo, ["feature"])
    finished = mav.counts("end")
    assert all(count == 1 for count in finished.values()), finished
    assert mav.counts("start") == {
        "implementer:phase-1": 1,  # finished before the kill: not asked again
        "implementer:phase-2": 2,  # killed while running, then asked again
        "implementer:phase-3": 1,
        "reviewer:round-1": 1,
    }


def test_a_failing_validation_is_fixed_by_the_fixer(tmp_path: Path) -> None:
    tasks = TASKS.replace("T001 Create the first module", "T001 Create the first module BROKEN")
    mav = fly_repo(tmp_path, tasks=tasks)
    result = mav.run("fly", "--branch-name", "feature", "--skip-review")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "stage 'compile'" in result.stdout and "asking the fixer" in result.stdout
    assert git(mav.repo, "show", "feature~2:src/t001.py") == "VALUE = 'fixed'"
    assert mav.counts("start")["fixer:fix-compile"] == 1
    pr = (mav.repo / ".maverick" / "prs" / "feature.md").read_text()
    assert "Phase 1: Setup - validation passed after 1 fix(es) (compile; 2 attempt(s))" in pr


def test_fly_fails_after_max_fix_attempts_and_resumes_after_a_hand_fix(tmp_path: Path) -> None:
    tasks = TASKS.replace("T003 Implement the core", "T003 Implement the core BROKEN UNFIXABLE")
    mav = fly_repo(tmp_path, tasks=tasks)
    failed = mav.run("fly", "--branch-name", "feature", "--max-fix-attempts", "2")
    assert failed.returncode == 1
    assert "validation failed after 3 attempt(s): stage 'compile'" in failed.stdout
    assert "resume with: maverick fly --resume fly-" in failed.stdout.splitlines()[-1]
    assert mav.counts("start")["fixer:fix-compile"] == 2
    assert [s for s, _ in history(mav.repo, "feature")] == ["Phase 1: Setup"]

    (mav.repo / "src" / "t003.py").write_text("VALUE = 'fixed by hand'\n")
    resumed = mav.run("fly", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert [s for s, _ in history(mav.repo, "feature")] == [
        "Phase 1: Setup",
        "Phase 2: Core",
        "Phase 3: Polish",
    ]
    assert git(mav.repo, "show", "feature~1:src/t003.py") == "VALUE = 'fixed by hand'"
    starts = mav.counts("start")
    assert starts["implementer:phase-2"] == 1  # its work was checkpointed: not redone
    assert starts["fixer:fix-compile"] == 2  # validation passed at once after the hand fix


def test_fly_refuses_to_start_on_uncommitted_changes(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    (mav.repo / "notes.txt").write_text("work in progress\n")
    result = mav.run("fly", "--branch-name", "feature")
    assert result.returncode == 1
    assert "uncommitted changes" in result.stdout and "?? notes.txt" in result.stdout
    assert "feature" not in git(mav.repo, "branch")
    assert mav.events() == []


def test_fly_without_an_implementer_says_what_to_add_before_doing_anything(tmp_path: Path) -> None:
    yaml = "project: e2e\nagents:\n  reviewer: {command: [claude, -p]}\n"
    mav = fly_repo(tmp_path, yaml=yaml)
    # the preflight would stop at the missing claude CLI first: this is the agents step
    result = mav.run("fly", "--branch-name", "feature", "--no-preflight")
    assert result.returncode == 1
    assert "no agent configured for role 'implementer'. Add to maverick.yaml:" in result.stdout
    assert "|   agents:\n    |     implementer: {preset: claude, timeout: 1800}" in (result.stdout)
    assert "feature" not in git(mav.repo, "branch")


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    result = mav.run("fly", "-i", "branch_name=feature", "-i", "dry_run=true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fly plan (dry run, nothing is changed): tasks.md - Widget" in result.stdout
    assert "phase 2: Core (implement, validate, commit)" in result.stdout
    assert "      - [ ] T003 Implement the core" in result.stdout
    assert git(mav.repo, "branch", "--format=%(refname:short)") == "main"
    assert mav.events() == []


def test_options_are_derived_from_the_workflow_inputs(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    shown = mav.run("fly", "--help").stdout
    for option in ("--branch-name", "--task-file", "--skip-review / --no-skip-review"):
        assert option in shown
    assert "--resume [RUN_ID]" in shown and "--explain" in shown
    missing = mav.run("fly")
    assert missing.returncode == 2 and "Missing option '--branch-name'" in missing.stderr
    twice = mav.run("fly", "--branch-name", "a", "-i", "branch_name=b")
    assert twice.returncode == 2 and "given twice" in twice.stderr


def test_an_input_file_gives_fly_its_inputs_under_the_options(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    (mav.repo.parent / "inputs.yaml").write_text("branch_name: from-file\ndry_run: true\n")
    inputs = str(mav.repo.parent / "inputs.yaml")
    result = mav.run("fly", "--input-file", inputs, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs(result.stdout)["branch"] == "from-file"
    result = mav.run("fly", "--input-file", inputs, "--branch-name", "explicit", "--json")
    assert outputs(result.stdout)["branch"] == "explicit"
    (mav.repo.parent / "bad.yaml").write_text("branch_name: x\nskip_reviews: true\n")
    bad = mav.run("fly", "--input-file", str(mav.repo.parent / "bad.yaml"))
    assert bad.returncode == 2
    assert "bad.yaml:2:1: inputs.skip_reviews: unknown input 'skip_reviews' (did you mean " in (
        bad.stderr
    )
    assert mav.events() == []


def test_a_project_fly_yaml_overrides_the_built_in_one(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    custom = mav.repo / ".maverick" / "workflows" / "fly.yaml"
    custom.parent.mkdir(parents=True)
    custom.write_text(
        'version: "1.0"\n'
        "name: fly\n"
        "inputs:\n"
        "  greeting: {type: string, required: true, description: what to say}\n"
        "steps:\n"
        "  - name: say\n"
        "    type: shell\n"
        "    command: echo custom fly says $GREETING\n"
        "    env: {GREETING: '${{ inputs.greeting }}'}\n"
        "outputs:\n"
        "  said: ${{ steps.say.output.stdout }}\n"
    )
    assert "--greeting" in mav.run("fly", "--help").stdout
    result = mav.run("fly", "--greeting", "hello", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs(result.stdout) == {"said": "custom fly says hello"}


def test_without_an_origin_the_branch_stays_local(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    git(mav.repo, "remote", "remove", "origin")
    result = mav.run("fly", "--branch-name", "feature", "--skip-review", "--skip-pr", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    out = outputs(result.stdout)
    assert out["pushed"] is False and out["pull_request"] is None and out["report"] is None
    assert "no 'origin' remote: feature stays local (not pushed)" in result.stdout
    assert len(history(mav.repo, "feature")) == 3


def test_the_example_project_runs_end_to_end(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "fly-demo"
    dest = tmp_path / "fly-demo"
    subprocess.run([str(example / "setup.sh"), str(dest)], check=True, capture_output=True)
    mav = Maverick(dest, {"EXAMPLE_AGENT_DELAY": "0"})
    result = mav.run("fly", "--branch-name", "demo-feature")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "asking the fixer" in result.stdout  # T003's prepared bug, repaired
    assert [s for s, _ in history(dest, "demo-feature")] == [
        "Phase 1: Setup",
        "Phase 2: Core operations",
        "Phase 3: Command line",
    ]
    assert (dest / ".maverick" / "prs" / "demo-feature.md").is_file()
    assert git(dest, "rev-parse", "demo-feature") == git(
        tmp_path / "fly-demo.origin.git", "rev-parse", "demo-feature"
    )


def test_a_tasks_file_without_phases_is_one_implicit_phase(tmp_path: Path) -> None:
    tasks = "# Tasks: Checklist\n\n- [ ] T001 Create the module\n- [ ] T002 Create another\n"
    mav = fly_repo(tmp_path, tasks=tasks)
    result = mav.run("fly", "--branch-name", "feature", "--skip-review", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "has no '## Phase N: Title' headings: its 2 task(s) are one implicit phase 1" in (
        result.stdout
    )
    assert outputs(result.stdout)["phases"] == 1
    assert [s for s, _ in history(mav.repo, "feature")] == ["Phase 1: Checklist"]
    assert "- [x] T002 Create another" in git(mav.repo, "show", "feature:tasks.md")
    assert mav.counts("start") == {"implementer:phase-1": 1}


def test_the_writer_agent_writes_commit_messages_and_the_pull_request(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path, yaml=settings(writer=True))
    result = mav.run("fly", "--branch-name", "feature")
    assert result.returncode == 0, result.stdout + result.stderr
    subjects = [s for s, _ in history(mav.repo, "feature")]
    assert subjects == [
        "Written: Phase 1: Setup",
        "Written: Phase 2: Core",
        "Written: Phase 3: Polish",
    ]
    message = git(mav.repo, "log", "-1", "--format=%B", "feature")
    assert "The stand-in writer describes the staged change." in message
    assert message.endswith("Maverick-Phase: 3")  # the idempotency trailer stays
    assert "src/t004.py" in mav.prompt("writer", "commit")
    pr = (mav.repo / ".maverick" / "prs" / "feature.md").read_text()
    assert "title: 'Written: Widget'" in pr and "Written by the stand-in." in pr
    assert "- Written: Phase 2: Core - validation passed" in pr  # facts the writer kept
    assert mav.counts("start")["writer:pull-request"] == 1


def test_a_failing_writer_leaves_the_deterministic_text(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path, yaml=settings(writer=True))
    mav.env["TEST_AGENT_WRITER_FAILS"] = "1"
    result = mav.run("fly", "--branch-name", "feature", "--skip-review")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the writer agent could not write the commit message" in result.stdout
    assert [s for s, _ in history(mav.repo, "feature")] == [
        "Phase 1: Setup",
        "Phase 2: Core",
        "Phase 3: Polish",
    ]
    assert "title: Widget" in (mav.repo / ".maverick" / "prs" / "feature.md").read_text()


def test_fly_worktree_leaves_the_current_checkout_alone(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    (mav.repo / "notes.txt").write_text("my own work in progress\n")
    result = mav.run("fly", "--branch-name", "feature", "--worktree", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs(result.stdout)["pull_request"] == ".maverick/prs/feature.md"
    repo = mav.repo
    assert git(repo, "branch", "--show-current") == "main"
    assert (repo / "notes.txt").read_text() == "my own work in progress\n"
    assert not (repo / "src" / "t001.py").exists()
    assert "- [ ] T001" in (repo / "tasks.md").read_text()  # the checkout's copy is untouched
    assert [s for s, _ in history(repo, "feature")] == [
        "Phase 1: Setup",
        "Phase 2: Core",
        "Phase 3: Polish",
    ]
    assert "- [x] T004 Polish it" in git(repo, "show", "feature:tasks.md")
    assert git(repo, "rev-parse", "feature") == git(
        repo.parent / "origin.git", "rev-parse", "feature"
    )
    assert not (repo / ".maverick" / "worktrees" / "feature").exists()  # removed at the end
    assert "feature" not in git(repo, "worktree", "list")
    assert "src/t003.py" in mav.prompt("reviewer", "round-1")


def test_fly_worktree_killed_resumes_in_its_worktree(tmp_path: Path) -> None:
    mav = fly_repo(tmp_path)
    mav.run_killed("fly", "--branch-name", "feature", "--worktree", hang="implementer:phase-2")
    assert (mav.repo / ".maverick" / "worktrees" / "feature" / "src" / "t001.py").is_file()
    resumed = mav.run("fly", "--resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # the branch step is restored: its output names the worktree the rest works in
    assert [s for s, _ in history(mav.repo, "feature")] == [
        "Phase 1: Setup",
        "Phase 2: Core",
        "Phase 3: Polish",
    ]
    assert git(mav.repo, "branch", "--show-current") == "main"
    assert mav.counts("start")["implementer:phase-1"] == 1
