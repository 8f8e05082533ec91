"""The ``maverick`` command line.

Plugins are loaded before click parses the command line (``-p`` and
``--project-dir`` are read first, as pytest does), so plugin commands from the
``register_commands`` hook appear in ``--help``. Errors a user can cause end
as one line on stderr with exit code 2; a failed run exits 1; an interrupted 130.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import json
import shlex
import sys
from typing import TYPE_CHECKING, Any

import click

from maverick_core import __version__
from maverick_core.engine.errors import MaverickError, PluginError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from maverick_core.engine.config import Config
    from maverick_core.engine.dsl.model import Workflow
    from maverick_core.engine.pluginmanager import MaverickPluginManager

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
LATEST = "__latest__"


class CliState:
    """What the global options decided: plugins, project directory."""

    def __init__(
        self, pm: MaverickPluginManager, project_dir: str | None, global_args: Sequence[str] = ()
    ) -> None:
        self.pm = pm
        self.project_dir = project_dir
        self.global_args = list(global_args)
        self._config: Config | None = None
        self._plugin_options: list[click.Option] | None = None

    def command(self, *words: str) -> str:
        """The ``maverick`` command line that repeats this invocation's global options."""
        return shlex.join(["maverick", *self.global_args, *words])

    def config(self, **options: Any) -> Config:
        """The configuration (built once; later options are merged in)."""
        from maverick_core.engine.config import make_config

        if self._config is None:
            self._config = make_config(self.pm, self.project_dir, options)
        else:
            self._config.options.update({k: v for k, v in options.items() if v is not None})
        return self._config

    def plugin_options(self) -> list[click.Option]:
        """The options plugins add to ``run`` and the workflow commands (``add_run_options``).

        :raises PluginError: naming the plugin when an option is malformed or takes a
            name or flag that a run option (or another plugin's) already has.
        """
        if self._plugin_options is None:
            self._plugin_options = collect_run_options(self.pm)
        return self._plugin_options

    def plugin_values(self, options: dict[str, Any]) -> dict[str, Any]:
        """The plugin options' values among a command's parsed ``options``."""
        return {o.name: options[o.name] for o in self.plugin_options() if o.name in options}


def _run_option_names() -> tuple[set[str], set[str]]:
    """The parameter names and flags ``run`` has without plugins."""

    def target() -> None:
        """Only a carrier for the options."""

    params: list[click.Parameter] = run_options(target).__click_params__
    names = {p.name for p in params if p.name} | {"help", "workflow"}
    flags = {f for p in params for f in [*p.opts, *p.secondary_opts]} | {"-h", "--help"}
    return names, flags


def collect_run_options(pm: MaverickPluginManager) -> list[click.Option]:
    """Call ``add_run_options`` plugin by plugin; refuse options that clash."""
    from maverick_core.engine.registries import call_each_plugin

    names, flags = _run_option_names()
    options: list[click.Option] = []

    def callback_for(plugin: str) -> Callable[..., None]:
        def add(*decls: str, **attributes: Any) -> None:
            try:
                option = click.Option(list(decls), **attributes)
            except (TypeError, ValueError) as exc:
                raise PluginError(f"plugin '{plugin}': bad run option {decls}: {exc}") from None
            taken = [f for f in [*option.opts, *option.secondary_opts] if f in flags]
            if option.name in names or taken:
                what = f"flag {taken[0]}" if taken else f"name '{option.name}'"
                raise PluginError(f"plugin '{plugin}': run option {what} is already taken")
            names.add(str(option.name))
            flags.update([*option.opts, *option.secondary_opts])
            options.append(option)

        return add

    call_each_plugin(pm, "add_run_options", callback_for)
    return options


class RunCommand(click.Command):
    """``maverick run``: its options are the run options plus those plugins add."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """The declared parameters, then the plugins' options, then ``--help``."""
        state = ctx.find_object(CliState)
        params = super().get_params(ctx)
        if state is None:
            return params
        return [*params[:-1], *state.plugin_options(), *params[-1:]]


def cli_state() -> CliState:
    """What the global options decided, for the command being run (plugin commands use it)."""
    state: CliState = click.get_current_context().find_object(CliState)  # type: ignore[assignment]
    return state


# ----------------------------------------------------------------------------- lazy commands


class LazyCommand(click.Command):
    """A command listed in ``maverick --help`` whose implementation loads when it is used.

    Plugins add these in ``register_commands`` so that listing the commands imports
    none of them: the real command is built by ``load`` (a ``"module:attribute"``
    reference or a function returning the command) the first time this command
    makes a context, i.e. when it runs, completes or prints its own ``--help``.
    """

    def __init__(self, name: str, summary: str, load: str | Callable[[], click.Command]) -> None:
        super().__init__(name, help=summary, short_help=summary)
        self._load = load
        self._command: click.Command | None = None

    def load(self) -> click.Command:
        """The real command (imported on first use)."""
        if self._command is None:
            if isinstance(self._load, str):
                module, _, attribute = self._load.partition(":")
                command: click.Command = getattr(importlib.import_module(module), attribute)
            else:
                command = self._load()
            self._command = command
        return self._command

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Hand the command line to the real command (its context names it)."""
        return self.load().make_context(info_name, args, parent=parent, **extra)


# ----------------------------------------------------------------------------- shared options


def run_options(function: Any) -> Any:
    """Options shared by ``run`` and the workflow commands (fly, refuel, review)."""
    decorators = [
        click.option(
            "-i",
            "--input",
            "assignments",
            multiple=True,
            metavar="KEY=VALUE",
            help=(
                "An input value, parsed as YAML and checked against its type; "
                "KEY=@FILE reads it from a file, KEY=@- from stdin. Inputs not given "
                "are read from MAVERICK_INPUT_<KEY>."
            ),
        ),
        click.option(
            "--input-file",
            metavar="FILE",
            help="Input values from a YAML or JSON mapping; -i and options given explicitly win.",
        ),
        click.option(
            "--resume",
            "resume",
            is_flag=False,
            flag_value=LATEST,
            default=None,
            metavar="[RUN_ID]",
            help="Continue the latest unfinished run (or RUN_ID) from its last checkpoint.",
        ),
        click.option(
            "--from-checkpoint",
            metavar="ID",
            help="With --resume: continue from this earlier checkpoint.",
        ),
        click.option(
            "--force", is_flag=True, help="Resume even though inputs or finished steps changed."
        ),
        click.option(
            "--explain",
            is_flag=True,
            help="With --resume: print what would be restored and rerun; run nothing.",
        ),
        click.option(
            "--store",
            metavar="URL",
            help="Checkpoint store (file:, sqlite:///runs.db, postgresql://...).",
        ),
        click.option("--serializer", metavar="NAME", help="Checkpoint serializer (json, ...)."),
        click.option(
            "--max-cost",
            type=click.FloatRange(min=0),
            metavar="USD",
            help="Stop before an agent call once agents spent USD (budget.max_cost_usd).",
        ),
        click.option(
            "--restart-step",
            is_flag=True,
            help="With --resume: start an interrupted agent call fresh, not its session.",
        ),
        click.option("-q", "--quiet", is_flag=True, help="Print only failures and the summary."),
        click.option(
            "--json",
            "json_events",
            is_flag=True,
            help="Print one JSON event per line instead of text.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def execute_workflow(
    name_or_path: str,
    given: dict[str, Any],
    given_names: set[str],
    *,
    resume: str | None,
    from_checkpoint: str | None,
    force: bool,
    explain: bool,
    store: str | None,
    serializer: str | None,
    quiet: bool,
    json_events: bool,
    resume_command: str,
    workflow: Workflow | None = None,
    max_cost: float | None = None,
    restart_step: bool = False,
    **plugin_options: Any,
) -> int:
    """Open (or resume) a run and execute it; returns the exit code.

    ``plugin_options`` are the values of the options plugins added
    (``add_run_options``); they land in ``config.options`` like the others.
    """
    from maverick_core.engine.discovery import load_named_workflow
    from maverick_core.engine.executor import Executor
    from maverick_core.engine.inputs import environment_inputs
    from maverick_core.engine.run import RunRequest, Status

    state = cli_state()
    extra = [("store", store), ("serializer", serializer)]
    resume_command = " ".join(
        [resume_command] + [f"--{name} {shlex.quote(value)}" for name, value in extra if value]
    )
    config = state.config(
        store=store,
        serializer=serializer,
        quiet=quiet,
        json=json_events,
        resume_command=resume_command,
        max_cost=max_cost,
        restart_step=restart_step,
        force=force,
        **plugin_options,
    )
    if workflow is None:
        workflow = load_named_workflow(config, name_or_path)
    from_environment = environment_inputs(workflow)
    given = {**from_environment, **given}
    given_names = set(given_names) | set(from_environment)
    if (from_checkpoint or explain) and resume is None:
        resume = LATEST
    request = RunRequest(
        workflow=workflow,
        inputs=given,
        given_inputs=frozenset(given_names),
        resume=resume is not None,
        run_id=None if resume in (None, LATEST) else resume,
        from_checkpoint=from_checkpoint,
        force=force,
        explain=explain,
    )
    run = config.pm.hook.open_run(config=config, request=request)
    if explain:
        click.echo(run.plan if run.plan else "nothing to explain")
        return 0
    from maverick_core.engine.secrets import MIN_SECRET_CHARS, unmasked_secret_inputs

    for name in unmasked_secret_inputs(run.workflow, run.inputs):
        config.pm.hook.on_notice(
            run=run,
            message=f"secret input '{name}' holds a value shorter than {MIN_SECRET_CHARS} "
            "characters: such values are not masked in output (see docs/yaml.md)",
        )
    outcome = Executor(run).execute()
    if outcome.usage_error:
        return EXIT_USAGE
    return {Status.COMPLETED: 0, Status.FAILED: EXIT_FAILED}.get(outcome.status, EXIT_INTERRUPTED)


def inputs_from_file(workflow: Workflow, input_file: str | None) -> dict[str, Any]:
    """The values of ``--input-file`` (none without it), type-checked per key."""
    from maverick_core.engine.inputs import read_input_file

    return read_input_file(workflow, input_file) if input_file else {}


def parse_assignments(workflow: Workflow, assignments: Sequence[str]) -> dict[str, Any]:
    """``-i KEY=VALUE`` values (``KEY=@FILE``, ``KEY=@-``), parsed and type-checked."""
    from maverick_core.engine.errors import InputError
    from maverick_core.engine.inputs import parse_assignment, parse_value

    values = {}
    from_stdin: list[str] = []
    for text in assignments:
        key, raw = parse_assignment(text)
        if raw == "@-":
            from_stdin.append(key)
            if len(from_stdin) > 1:
                raise InputError(
                    f"-i {from_stdin[0]}=@- and -i {key}=@-: standard input can give one value"
                )
        values[key] = parse_value(workflow, key, raw)
    return values


# ----------------------------------------------------------------------------- completion


def _complete_workflows(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    try:
        from maverick_core.engine.discovery import list_workflows

        with ctx:  # completion resolves contexts without making them current
            names = {entry.name for entry in list_workflows(cli_state().config())}
    except Exception:  # completion must never fail, whatever the project holds
        return []
    return sorted(n for n in names if n.startswith(incomplete))


# ----------------------------------------------------------------------------- commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="maverick")
@click.option(
    "-p",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Load a plugin module; -p no:NAME blocks plugin NAME.",
)
@click.option(
    "--project-dir",
    metavar="DIR",
    help="The project root (default: found from the current directory).",
)
def cli(plugins: tuple[str, ...], project_dir: str | None) -> None:
    """maverick: resumable developer workflows (fly, refuel, review) written in YAML."""


@cli.command(cls=RunCommand)
@click.argument("workflow", shell_complete=_complete_workflows)
@run_options
def run(workflow: str, assignments: tuple[str, ...], **options: Any) -> None:
    """Run WORKFLOW (a YAML file or a workflow name)."""
    from maverick_core.engine.discovery import load_named_workflow

    # the reporter is chosen when the configuration is built (configure): pass the
    # output options, and those plugins added, now
    state = cli_state()
    config = state.config(
        store=options["store"],
        serializer=options["serializer"],
        quiet=options["quiet"],
        json=options["json_events"],
        **state.plugin_values(options),
    )
    loaded = load_named_workflow(config, workflow)
    given = {
        **inputs_from_file(loaded, options.pop("input_file")),
        **parse_assignments(loaded, assignments),
    }
    command = cli_state().command("run", workflow)
    sys.exit(
        execute_workflow(
            workflow, given, set(given), resume_command=command, workflow=loaded, **options
        )
    )


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> None:
    """Check workflow FILES; print each error as file:line:col and exit 2 on any."""
    from maverick_core.engine.discovery import expression_functions
    from maverick_core.engine.dsl.loader import load_workflow
    from maverick_core.engine.errors import DefinitionError, DefinitionErrors

    pm = cli_state().pm
    models = pm.registries.step_models()
    functions = expression_functions(pm)
    failed = False
    for file in files:
        try:
            load_workflow(file, models, functions)
        except DefinitionErrors as exc:
            failed = True
            for error in exc.errors:
                click.echo(error.message, err=True)
        except DefinitionError as exc:
            failed = True
            click.echo(f"{file}: {exc.message}", err=True)
        else:
            click.echo(f"{file}: ok")
    if failed:
        sys.exit(EXIT_USAGE)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the workflow language (for editors)."""
    from maverick_core.engine.dsl.schema import workflow_schema

    click.echo(json.dumps(workflow_schema(cli_state().pm.registries.step_models()), indent=2))


@cli.group()
def workflows() -> None:
    """Workflows found by name."""


@workflows.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def workflows_list(as_json: bool) -> None:
    """List workflows with their source and description."""
    from maverick_core.engine.discovery import list_workflows

    entries = list_workflows(cli_state().config())
    for entry in entries:
        if entry.problem:
            click.echo(f"note: {entry.name}: {entry.problem}", err=True)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": e.name,
                        "source": e.source,
                        "path": str(e.path),
                        "description": e.description,
                        "shadowed_by": e.shadowed_by,
                        "problem": e.problem,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return
    if not entries:
        click.echo("no workflows found")
        return
    width = max(len(e.name) for e in entries)
    for e in entries:
        note = f"  (overridden by {e.shadowed_by})" if e.shadowed_by else ""
        click.echo(f"{e.name:<{width}}  {e.source:<8}  {e.description}{note}")


@workflows.command("show")
@click.argument("name", shell_complete=_complete_workflows)
@click.option(
    "--mermaid",
    is_flag=True,
    help="Print a Mermaid flowchart of the workflow instead: steps in order, loops and "
    "subworkflows as groups, branches as decisions, conditions on the edges, checkpoints "
    "as flags (paste it into a ```mermaid block).",
)
def workflows_show(name: str, mermaid: bool) -> None:
    """Print a workflow's file (NAME is a workflow name or a path to a YAML file)."""
    from maverick_core.engine.discovery import find_workflow
    from maverick_core.engine.safeyaml import read_text

    config = cli_state().config()
    if mermaid:
        from maverick_core.engine.discovery import load_named_workflow
        from maverick_core.engine.dsl.diagram import workflow_mermaid

        click.echo(workflow_mermaid(load_named_workflow(config, name), config=config), nl=False)
        return
    path = find_workflow(config, name)
    text = read_text(path)
    click.echo(f"# {path}")
    click.echo(text, nl=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (what each provides included).")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also list what each plugin provides (loads every plugin's registrations).",
)
def plugins(as_json: bool, verbose: bool) -> None:
    """List installed plugins: name, version, origin, hooks (-v: what each provides)."""
    from maverick_core.engine.pluginmanager import hooks_of
    from maverick_core.engine.registries import KINDS
    from maverick_core.engine.settings import collect_sections

    pm = cli_state().pm
    # what a plugin provides is known only by calling its register_* hooks, which
    # imports its implementation: the plain listing stays as cheap as --help
    kinds = list(KINDS) if as_json or verbose else []
    sections = collect_sections(pm) if kinds else {}
    rows: list[dict[str, Any]] = []
    for name, info in pm.infos.items():
        plugin = pm.get_plugin(name)
        provides: dict[str, list[str]] = {}
        for kind in kinds:
            keys = [k for k, r in pm.registries.kind(kind).items() if r.plugin == name]
            if keys:
                provides[kind] = sorted(keys)
        declared = sorted(s.name for s in sections.values() if s.plugin == name)
        if declared:
            provides["settings"] = declared  # its maverick.yaml sections
        rows.append(
            {
                "name": name,
                "origin": info.origin,
                "module": info.module,
                "distribution": info.distribution,
                "version": __version__ if info.origin == "built-in" else info.version,
                "hooks": hooks_of(pm, plugin) if plugin is not None else [],
                "provides": provides,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        dist = f" {row['distribution']}" if row["distribution"] else ""
        click.echo(f"{row['name']} {row['version']} ({row['origin']}{dist})")
        for kind, keys in row["provides"].items():
            click.echo(f"    {kind.replace('_', ' ')}: {', '.join(keys)}")
        click.echo(f"    hooks: {', '.join(row['hooks'])}")
    if pm.blocked_names:
        shown = [
            f"{name} ({why})" if (why := pm.blocked_reasons.get(name)) else name
            for name in sorted(pm.blocked_names)
        ]
        click.echo(f"blocked: {', '.join(shown)}")


# ----------------------------------------------------------------------------- entry point


def _preparse(argv: Sequence[str]) -> tuple[list[str], str | None, list[str]]:
    """Read ``-p`` and ``--project-dir`` before click, to load plugins first.

    Returns the plugin specs, the project directory, and the global options as
    given (repeated in the command that resumes a run).
    """
    plugins: list[str] = []
    project_dir = None
    global_args: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-p", "--project-dir") and i + 1 < len(args):
            value = args[i + 1]
            if arg == "-p":
                plugins.append(value)
            else:
                project_dir = value
            global_args += [arg, value]
            i += 2
            continue
        if arg.startswith("--project-dir="):
            project_dir = arg.split("=", 1)[1]
            global_args.append(arg)
        elif arg.startswith("-p") and len(arg) > 2 and not arg.startswith("--"):
            plugins.append(arg[2:].lstrip("="))
            global_args.append(arg)
        elif not arg.startswith("-"):
            break  # the subcommand: what follows is its own
        i += 1
    return plugins, project_dir, global_args


def build_cli(pm: MaverickPluginManager) -> click.Group:
    """The CLI group with the commands plugins add."""
    pm.hook.register_commands(cli=cli)
    return cli


WINDOWS_MESSAGE = (
    "error: maverick runs on Linux and macOS; on Windows, run it inside WSL "
    "(Windows Subsystem for Linux: 'wsl --install', then install maverick there)"
)


def _skip_final_collections() -> None:
    """At exit: collect the command's garbage, then keep the interpreter from walking the rest.

    CPython's finalization runs full garbage collections over every object still alive,
    and start-up made many (classes, plugin hooks, click parameters): the largest part
    of what a command spent after its work was done (docs/benchmarks.md, start-up).
    What the command left as garbage is collected as before, its finalizers run; what
    is still alive is frozen out of the final collections and the operating system
    reclaims it. Only ``main`` registers this: it is the console entry point and ends
    the process.
    """
    gc.collect()
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: ``maverick``."""
    if sys.platform == "win32":
        # Before anything imports fcntl, process groups or POSIX signals: one line, exit 2.
        sys.stderr.write(WINDOWS_MESSAGE + "\n")
        sys.exit(EXIT_USAGE)
    atexit.register(_skip_final_collections)
    from maverick_core.engine.collector import collector_paused
    from maverick_core.engine.errors import DefinitionError, DefinitionErrors
    from maverick_core.engine.pluginmanager import make_plugin_manager

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        plugin_specs, project_dir, global_args = _preparse(args)
        # what start-up builds (modules, classes, plugin hooks, the CLI) lives until the
        # process ends: no collection walks it while it is built (the young collections
        # that loading the plugins set off cost 1-2 ms), nor any later one, the
        # command's own and the last
        with collector_paused():
            pm = make_plugin_manager(plugins=plugin_specs)
            group = build_cli(pm)
            gc.freeze()
        group.main(
            args=args,
            prog_name="maverick",
            obj=CliState(pm, project_dir, global_args),
            standalone_mode=True,
        )
    except DefinitionErrors as exc:
        for error in exc.errors:
            click.echo(error.message, err=True)
        sys.exit(EXIT_USAGE)
    except DefinitionError as exc:
        # located errors start with file:line:col, like the compiler errors editors parse
        click.echo(exc.message if exc.location else f"error: {exc.message}", err=True)
        sys.exit(EXIT_USAGE)
    except MaverickError as exc:
        from maverick_core.engine.secrets import mask_active

        click.echo(f"error: {mask_active(exc.message)}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
