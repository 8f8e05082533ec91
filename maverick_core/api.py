"""The public API: everything a plugin may import from maverick.

Plugins (the first-party ones in ``plugins/``, the built-in ``devflow`` plugin and
third parties) import from here and from :mod:`maverick_core` (``hookimpl``) only;
the modules behind these names may move, these names stay. Names load on first
use (PEP 562), so ``from maverick_core.api import StepFailed`` imports the error
classes and nothing else: a plugin stays cheap to load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maverick_core.engine.cli import (
        CliState,
        LazyCommand,
        cli_state,
        execute_workflow,
        inputs_from_file,
        parse_assignments,
        run_options,
    )
    from maverick_core.engine.config import Config, open_project, origin_url, state_dir
    from maverick_core.engine.context import Scope, StepContext, StepType
    from maverick_core.engine.describe import configured_store, describe_run
    from maverick_core.engine.discovery import load_named_workflow
    from maverick_core.engine.dsl.diagram import mermaid_node_id, workflow_mermaid
    from maverick_core.engine.dsl.model import (
        Condition,
        Count,
        Data,
        InputSpec,
        Seconds,
        Step,
        Text,
        Workflow,
    )
    from maverick_core.engine.durability import (
        atomic_write,
        durability,
        set_durability,
        sync_directory,
        sync_file,
    )
    from maverick_core.engine.errors import (
        CheckpointNotSaved,
        DefinitionError,
        EvaluationError,
        InputError,
        Interrupted,
        LockHeld,
        MaverickError,
        PluginError,
        ResumeRefused,
        StepFailed,
        StoreError,
        WorkflowFailed,
    )
    from maverick_core.engine.inputs import environment_inputs, parse_value
    from maverick_core.engine.liveness import process_alive, process_start_time
    from maverick_core.engine.plaindata import NotPlainData, find_non_plain, walk_plain
    from maverick_core.engine.pluginmanager import open_store
    from maverick_core.engine.processes import (
        CommandResult,
        CommandRunner,
        ProcessGroup,
        kill_tree,
        run_process,
    )
    from maverick_core.engine.registries import (
        AddOption,
        LazyStepType,
        RegisterAction,
        RegisterAgent,
        RegisterExpressionFunction,
        RegisterProvider,
        RegisterSerializer,
        RegisterStepType,
        RegisterStore,
        RegisterWorkflowSource,
    )
    from maverick_core.engine.run import (
        RESUMABLE,
        CheckpointInfo,
        Run,
        RunOutcome,
        RunRequest,
        RunState,
        Status,
        StepRecord,
    )
    from maverick_core.engine.runquery import RunPage, RunQuery, page_of, query_runs
    from maverick_core.engine.secrets import SecretMasker, mask_active
    from maverick_core.engine.settings import AddSettings
    from maverick_core.engine.stash import Stash, StashKey
    from maverick_core.engine.storage import (
        RECORD_COLUMNS,
        CheckpointRecord,
        DamagedRecord,
        LockHolder,
        PagedStore,
        Project,
        QueryError,
        RunRecord,
        Serializer,
        Store,
        StoreFactory,
        make_record,
        record_from_row,
        record_values,
    )
    from maverick_core.engine.units import elapsed, money, tokens

_EXPORTS: dict[str, str] = {
    # run history: what `maverick runs show` and viewers show about a run
    "configured_store": "maverick_core.engine.describe",
    "describe_run": "maverick_core.engine.describe",
    # the CLI, for plugin commands
    "CliState": "maverick_core.engine.cli",
    "LazyCommand": "maverick_core.engine.cli",
    "cli_state": "maverick_core.engine.cli",
    "execute_workflow": "maverick_core.engine.cli",
    "inputs_from_file": "maverick_core.engine.cli",
    "parse_assignments": "maverick_core.engine.cli",
    "run_options": "maverick_core.engine.cli",
    # the project and its settings
    "Config": "maverick_core.engine.config",
    "open_project": "maverick_core.engine.config",
    "origin_url": "maverick_core.engine.config",
    "state_dir": "maverick_core.engine.config",
    # step types
    "Scope": "maverick_core.engine.context",
    "StepContext": "maverick_core.engine.context",
    "StepType": "maverick_core.engine.context",
    "LazyStepType": "maverick_core.engine.registries",
    "Condition": "maverick_core.engine.dsl.model",
    "Count": "maverick_core.engine.dsl.model",
    "Data": "maverick_core.engine.dsl.model",
    "InputSpec": "maverick_core.engine.dsl.model",
    "Seconds": "maverick_core.engine.dsl.model",
    "Step": "maverick_core.engine.dsl.model",
    "Text": "maverick_core.engine.dsl.model",
    "Workflow": "maverick_core.engine.dsl.model",
    "load_named_workflow": "maverick_core.engine.discovery",
    # diagrams
    "mermaid_node_id": "maverick_core.engine.dsl.diagram",
    "workflow_mermaid": "maverick_core.engine.dsl.diagram",
    "environment_inputs": "maverick_core.engine.inputs",
    "parse_value": "maverick_core.engine.inputs",
    # durable writes, for stores
    "atomic_write": "maverick_core.engine.durability",
    "durability": "maverick_core.engine.durability",
    "set_durability": "maverick_core.engine.durability",
    "sync_directory": "maverick_core.engine.durability",
    "sync_file": "maverick_core.engine.durability",
    # secret masking (``run.secrets`` is a SecretMasker)
    "SecretMasker": "maverick_core.engine.secrets",
    "mask_active": "maverick_core.engine.secrets",
    # errors
    "CheckpointNotSaved": "maverick_core.engine.errors",
    "DefinitionError": "maverick_core.engine.errors",
    "EvaluationError": "maverick_core.engine.errors",
    "InputError": "maverick_core.engine.errors",
    "Interrupted": "maverick_core.engine.errors",
    "LockHeld": "maverick_core.engine.errors",
    "MaverickError": "maverick_core.engine.errors",
    "PluginError": "maverick_core.engine.errors",
    "ResumeRefused": "maverick_core.engine.errors",
    "StepFailed": "maverick_core.engine.errors",
    "StoreError": "maverick_core.engine.errors",
    "WorkflowFailed": "maverick_core.engine.errors",
    # other processes: is a lock holder alive?
    "process_alive": "maverick_core.engine.liveness",
    "process_start_time": "maverick_core.engine.liveness",
    # plain data: the one walk
    "NotPlainData": "maverick_core.engine.plaindata",
    "find_non_plain": "maverick_core.engine.plaindata",
    "walk_plain": "maverick_core.engine.plaindata",
    # stores by URL
    "open_store": "maverick_core.engine.pluginmanager",
    # child processes
    "CommandResult": "maverick_core.engine.processes",
    "CommandRunner": "maverick_core.engine.processes",
    "ProcessGroup": "maverick_core.engine.processes",
    "kill_tree": "maverick_core.engine.processes",
    "run_process": "maverick_core.engine.processes",
    # registries
    "AddOption": "maverick_core.engine.registries",
    "RegisterAction": "maverick_core.engine.registries",
    "RegisterAgent": "maverick_core.engine.registries",
    "RegisterExpressionFunction": "maverick_core.engine.registries",
    "RegisterProvider": "maverick_core.engine.registries",
    "RegisterSerializer": "maverick_core.engine.registries",
    "RegisterStepType": "maverick_core.engine.registries",
    "RegisterStore": "maverick_core.engine.registries",
    "RegisterWorkflowSource": "maverick_core.engine.registries",
    # runs
    "RESUMABLE": "maverick_core.engine.run",
    "CheckpointInfo": "maverick_core.engine.run",
    "Run": "maverick_core.engine.run",
    "RunOutcome": "maverick_core.engine.run",
    "RunRequest": "maverick_core.engine.run",
    "RunState": "maverick_core.engine.run",
    "Status": "maverick_core.engine.run",
    "StepRecord": "maverick_core.engine.run",
    # maverick.yaml sections
    "AddSettings": "maverick_core.engine.settings",
    # plugin state
    "Stash": "maverick_core.engine.stash",
    "StashKey": "maverick_core.engine.stash",
    # storage
    "CheckpointRecord": "maverick_core.engine.storage",
    "DamagedRecord": "maverick_core.engine.storage",
    "LockHolder": "maverick_core.engine.storage",
    "Project": "maverick_core.engine.storage",
    "RunRecord": "maverick_core.engine.storage",
    "Serializer": "maverick_core.engine.storage",
    "Store": "maverick_core.engine.storage",
    "StoreFactory": "maverick_core.engine.storage",
    "RECORD_COLUMNS": "maverick_core.engine.storage",
    "make_record": "maverick_core.engine.storage",
    # run listing, page by page
    "PagedStore": "maverick_core.engine.storage",
    "QueryError": "maverick_core.engine.storage",
    "RunPage": "maverick_core.engine.runquery",
    "RunQuery": "maverick_core.engine.runquery",
    "page_of": "maverick_core.engine.runquery",
    "query_runs": "maverick_core.engine.runquery",
    # how amounts read in output
    "elapsed": "maverick_core.engine.units",
    "money": "maverick_core.engine.units",
    "tokens": "maverick_core.engine.units",
    "record_from_row": "maverick_core.engine.storage",
    "record_values": "maverick_core.engine.storage",
}

__all__ = [
    "RECORD_COLUMNS",
    "RESUMABLE",
    "AddOption",
    "AddSettings",
    "CheckpointInfo",
    "CheckpointNotSaved",
    "CheckpointRecord",
    "CliState",
    "CommandResult",
    "CommandRunner",
    "Condition",
    "Config",
    "Count",
    "DamagedRecord",
    "Data",
    "DefinitionError",
    "EvaluationError",
    "InputError",
    "InputSpec",
    "Interrupted",
    "LazyCommand",
    "LazyStepType",
    "LockHeld",
    "LockHolder",
    "MaverickError",
    "NotPlainData",
    "PagedStore",
    "PluginError",
    "ProcessGroup",
    "Project",
    "QueryError",
    "RegisterAction",
    "RegisterAgent",
    "RegisterExpressionFunction",
    "RegisterProvider",
    "RegisterSerializer",
    "RegisterStepType",
    "RegisterStore",
    "RegisterWorkflowSource",
    "ResumeRefused",
    "Run",
    "RunOutcome",
    "RunPage",
    "RunQuery",
    "RunRecord",
    "RunRequest",
    "RunState",
    "Scope",
    "Seconds",
    "SecretMasker",
    "Serializer",
    "Stash",
    "StashKey",
    "Status",
    "Step",
    "StepContext",
    "StepFailed",
    "StepRecord",
    "StepType",
    "Store",
    "StoreError",
    "StoreFactory",
    "Text",
    "Workflow",
    "WorkflowFailed",
    "atomic_write",
    "cli_state",
    "configured_store",
    "describe_run",
    "durability",
    "elapsed",
    "environment_inputs",
    "execute_workflow",
    "find_non_plain",
    "inputs_from_file",
    "kill_tree",
    "load_named_workflow",
    "make_record",
    "mask_active",
    "mermaid_node_id",
    "money",
    "open_project",
    "open_store",
    "origin_url",
    "page_of",
    "parse_assignments",
    "parse_value",
    "process_alive",
    "process_start_time",
    "query_runs",
    "record_from_row",
    "record_values",
    "run_options",
    "run_process",
    "set_durability",
    "state_dir",
    "sync_directory",
    "sync_file",
    "tokens",
    "walk_plain",
    "workflow_mermaid",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'maverick_core.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
