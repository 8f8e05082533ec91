"""``maverick fly``, ``maverick refuel`` and ``maverick review``.

Each command runs the workflow of the same name, found like ``maverick run NAME``
finds it (so a project's ``.maverick/workflows/fly.yaml`` replaces the built-in
one). Its options are derived from that workflow's declared inputs when the
command line is parsed: ``branch_name`` becomes ``--branch-name``, a boolean
``skip_review`` becomes ``--skip-review/--no-skip-review``; ``-i KEY=VALUE`` and
``--input-file FILE`` work too, and every option of ``maverick run``
(``--resume [RUN_ID]``, ``--explain``, ``--force``, ``--store`` ...) is there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from maverick_core.api import (
    CliState,
    MaverickError,
    execute_workflow,
    inputs_from_file,
    parse_assignments,
    run_options,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from maverick_core.api import InputSpec, Workflow

PREFLIGHT = ("fly", "refuel")
"""The built-in workflows checked by ``maverick doctor``'s checks before they start."""


def _run_params() -> list[click.Parameter]:
    """The parameters of ``maverick run`` shared by the workflow commands."""

    def target() -> None:
        """Only a carrier for the options."""

    decorated = run_options(target)
    # click decorators collect parameters last-first; the command wants them in order
    return list(reversed(decorated.__click_params__))


def _reserved_names(params: Sequence[click.Parameter]) -> set[str]:
    names = {"help"}
    for param in params:
        for opt in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
            names.add(opt.lstrip("-"))
    return names


def option_name(input_name: str) -> str:
    """``branch_name`` → ``branch-name`` (the option's long name without dashes)."""
    return input_name.replace("_", "-").lower()


def _describe(name: str, spec: InputSpec) -> str:
    parts = [spec.description.strip()] if spec.description else []
    details = [f"input {name}", spec.type]
    if spec.required and not spec.has_default:
        details.append("required")
    elif spec.has_default and spec.default not in (None, ""):
        details.append(f"default: {spec.default}")
    parts.append(f"[{', '.join(details)}]")
    return " ".join(parts)


class WorkflowCommand(click.Command):
    """A command that runs one workflow, its options derived from the workflow's inputs."""

    def __init__(self, workflow_name: str, summary: str) -> None:
        self.workflow_name = workflow_name
        self.base_params = _run_params()
        self.own_params: list[click.Parameter] = []
        if workflow_name in PREFLIGHT:
            self.own_params.append(
                click.Option(
                    ["--no-preflight"],
                    is_flag=True,
                    help="Start without checking the setup first (maverick doctor's checks).",
                )
            )
        self.derived: dict[str, tuple[str, InputSpec]] = {}
        self.workflow: Workflow | None = None
        super().__init__(
            workflow_name,
            callback=self.invoke_workflow,
            params=[*self.base_params, *self.own_params],
            help=summary,
            short_help=summary,
        )

    def load(self, ctx: click.Context) -> Workflow:
        """Find the workflow by name (project, user, plugins, built-in) and load it.

        This happens before the options are parsed, so it must not build the run's
        configuration (that would choose the reporter before ``--quiet``/``--json``
        are known): finding a workflow needs only the project root and settings.
        """
        from maverick_core.api import Config, load_named_workflow, open_project

        state = self.state(ctx)
        project, settings = open_project(state.project_dir, state.pm)
        return load_named_workflow(Config(project, settings, state.pm), self.workflow_name)

    def state(self, ctx: click.Context) -> CliState:
        """The global options (plugins, project directory) of this invocation."""
        state = ctx.find_object(CliState)
        if state is None:
            raise MaverickError(f"maverick {self.workflow_name} must run under the maverick CLI")
        return state

    def derive_params(
        self, workflow: Workflow, plugin_options: Sequence[click.Parameter] = ()
    ) -> list[click.Parameter]:
        """One option per declared input (inputs whose name a run option uses: ``-i`` only)."""
        reserved = _reserved_names([*self.base_params, *self.own_params, *plugin_options])
        params: list[click.Parameter] = []
        self.derived = {}
        for index, (name, spec) in enumerate(workflow.inputs.items()):
            long = option_name(name)
            if long in reserved or not long.replace("-", "").isalnum():
                continue
            dest = f"input_{index}"
            self.derived[dest] = (name, spec)
            help_text = _describe(name, spec)
            if spec.type == "boolean":
                params.append(
                    click.Option([f"--{long}/--no-{long}", dest], default=None, help=help_text)
                )
                continue
            kinds: dict[str, click.ParamType[Any]] = {"integer": click.INT, "number": click.FLOAT}
            # a secret is parsed by maverick, whose errors never echo it (click's would)
            kind = click.STRING if spec.secret else kinds.get(spec.type, click.STRING)
            metavar = {"list": "YAML_LIST", "object": "YAML_MAPPING"}.get(
                spec.type, spec.type.upper()
            )
            if spec.secret:
                help_text += " (secret: never stored, never printed)"
            params.append(
                click.Option([f"--{long}", dest], type=kind, metavar=metavar, help=help_text)
            )
        return params

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Load the workflow first, so its inputs are options (and in ``--help``)."""
        try:
            workflow = self.load(ctx)
        except MaverickError:
            if ctx.resilient_parsing:  # shell completion must never fail
                return super().parse_args(ctx, args)
            raise
        self.workflow = workflow
        plugin_options: list[click.Parameter] = list(self.state(ctx).plugin_options())
        self.params = self.derive_params(workflow, plugin_options) + self.base_params
        self.params += self.own_params + plugin_options
        if workflow.description:
            self.help = f"{workflow.description.strip()}\n\nWorkflow file: {workflow.source}"
        return super().parse_args(ctx, args)

    def invoke_workflow(self, assignments: tuple[str, ...], **options: Any) -> None:
        """Collect the inputs from the derived options and ``-i``, then run the workflow."""
        from maverick_core.api import environment_inputs, parse_value

        workflow = self.workflow
        if workflow is None:  # parse_args always sets it; guard for direct callers
            raise MaverickError(f"workflow '{self.workflow_name}' was not loaded")
        skip_preflight = bool(options.pop("no_preflight", False))
        from_file = inputs_from_file(workflow, options.pop("input_file", None))
        given = parse_assignments(workflow, assignments)
        for dest, (name, spec) in self.derived.items():
            value = options.pop(dest, None)
            if value is None:
                continue
            if name in given:
                raise click.UsageError(
                    f"input '{name}' is given twice (--{option_name(name)} and -i {name}=...)"
                )
            if spec.type in ("list", "object", "string") or spec.secret:
                value = parse_value(workflow, name, value)
            given[name] = value
        given = {**from_file, **given}  # what the command line says explicitly wins
        for name, value in environment_inputs(workflow).items():
            given.setdefault(name, value)
        starting = options.get("resume") is None and not options.get("explain")
        if starting and not options.get("from_checkpoint"):
            for name, spec in workflow.inputs.items():
                if spec.required and not spec.has_default and name not in given:
                    flag = (
                        f"--{option_name(name)}"
                        if any(n == name for n, _ in self.derived.values())
                        else f"-i {name}=..."
                    )
                    raise click.UsageError(f"Missing option '{flag}' (input {name}).")
            if not skip_preflight and not given.get("dry_run"):
                self.preflight(workflow, given, options)
        sys.exit(
            execute_workflow(
                self.workflow_name,
                given,
                set(given),
                resume_command=self.state(click.get_current_context()).command(self.workflow_name),
                workflow=workflow,
                **options,
            )
        )

    def preflight(self, workflow: Workflow, given: dict[str, Any], options: dict[str, Any]) -> None:
        """Run doctor's checks before a new run of built-in fly/refuel; stop on a failure."""
        from maverick_core.devflow import LIBRARY
        from maverick_core.devflow.doctor import preflight_checks, report

        source = Path(workflow.source or "")
        if self.workflow_name not in PREFLIGHT or not source.is_relative_to(LIBRARY):
            return  # a project's own fly.yaml decides what it needs
        config = self.state(click.get_current_context()).config(
            store=options.get("store"),
            serializer=options.get("serializer"),
            quiet=options.get("quiet"),
            json=options.get("json_events"),
        )
        checks = preflight_checks(config, self.workflow_name, given)
        if all(check.ok for check in checks):
            if not options.get("quiet") and not options.get("json_events"):
                click.echo(f"preflight: {len(checks)} checks passed")
            return
        # with --json, stdout is for JSON events only
        to_stderr = bool(options.get("json_events"))
        click.echo(report(checks), err=to_stderr)
        click.echo(
            f"maverick {self.workflow_name} did not start: fix the above "
            "(`maverick doctor` checks again), or skip the checks with --no-preflight",
            err=to_stderr,
        )
        sys.exit(1)


@click.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing maverick.yaml.")
def init_command(force: bool) -> None:
    """Write a commented maverick.yaml for this project (validation, agents, provider)."""
    from maverick_core.api import cli_state
    from maverick_core.devflow.init import describe, write_settings

    config = cli_state().config()
    path = write_settings(config, force)
    click.echo(f"wrote {path}")
    click.echo(describe(config))
    click.echo("next: maverick doctor, then maverick fly --branch-name NAME")


@click.command("doctor")
def doctor_command() -> None:
    """Check the setup before a long run; each check ok or FAIL with how to fix it."""
    from maverick_core.api import cli_state
    from maverick_core.devflow.doctor import doctor_checks, report

    checks = doctor_checks(cli_state().config())
    click.echo(report(checks))
    if not all(check.ok for check in checks):
        sys.exit(1)
