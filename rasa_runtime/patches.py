"""Fixes to Rasa 3.6.21 that this project carries, applied by `python -m rasa_runtime` before Rasa starts.

Each patch names the Rasa code it replaces and keeps its behaviour; `tests/unit/test_rasa_patches.py` checks
both. Each can be switched off by its environment variable in `SWITCHES` (`on`, the default, or `off`), to
compare with Rasa's own code or to rule a patch out of a bug report; the runtime logs which ones it applied.
Remove a patch when the pinned Rasa no longer needs it.

Gone: `keep_endpoint_connections` (one pooled aiohttp session per endpoint for the action server). Rasa shipped
the same change in 3.6.11 (RasaHQ/rasa#12886) and reverted it in 3.6.15 (#12965) for connection timeouts to
the action server; ours never closed its session and relied on a client keep-alive shorter than Sanic's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from rasa_runtime.action_server_outage import answer_when_action_server_fails
from rasa_runtime.flat_turns import keep_turns_flat
from rasa_runtime.idempotent_turns import answer_retries_from_the_store
from rasa_runtime.json_errors import answer_errors_as_json
from rasa_runtime.metrics import export_metrics
from rasa_runtime.rate_limit_middleware import limit_abuse
from rasa_runtime.secret_masking import mask_secrets_before_saving

RASA_VERSION = "3.6.21"


def validate_action_responses_once() -> None:
    """Build the validator for the action server's answers once instead of on every custom-action call.

    `RemoteAction._validate_action_result` calls `jsonschema.validate`, which re-checks the constant schema
    itself before every validation: in the serving benchmark that was a large share of a Rasa process's CPU, as
    each turn runs two or three custom actions (docs/performance.md). Same validation, same error message.
    """
    import rasa.core.actions.action as action
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for

    original = action.RemoteAction._validate_action_result
    if hasattr(original, "__wrapped__"):
        return
    schema = action.RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        try:
            validator.validate(result)
        except ValidationError as error:
            error.message += (
                ". Failed to validate Action server response from API, make sure your response "
                "from the Action endpoint is valid."
            )
            raise
        return True

    _validate_action_result.__wrapped__ = original  # type: ignore[attr-defined]
    action.RemoteAction._validate_action_result = _validate_action_result


def resolve_event_types_once() -> None:
    """Look an event class up by its type name once instead of walking Event's subclasses on every event.

    `Event.resolve_by_type` rebuilds the list of all Event subclasses (recursively, with an `isabstract`
    check each) for every event it deserialises: building a tracker from its stored rows and reading an
    action server's answer do that for each event. In the tracker store's benchmark that was a large share of a
    turn's store time. Found classes are remembered by type name; an unknown name still goes to Rasa's
    lookup (so a subclass imported later is found, and the error for an unknown name is Rasa's).
    """
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    if hasattr(original, "__wrapped__"):
        return
    found: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    resolve_by_type.__wrapped__ = original  # type: ignore[attr-defined]
    Event.resolve_by_type = staticmethod(resolve_by_type)


def run_graphs_without_dask() -> None:
    """Run a model's graph (every parse, every policy prediction) node by node instead of through dask.

    `DaskGraphRunner.run` recomputes the minimal schema (a recursive walk) and builds a dask graph on every
    call, and dask's synchronous scheduler then orders and dispatches a handful of nodes: a large share of
    a policy prediction's time on our model. The nodes, their inputs and their outputs are the same: each
    node is called with its dependencies' `(name, output)` pairs in the schema's order, an input named like
    a node replaces it, a dependency nobody provides is passed as its bare name (dask's behaviour, which
    `GraphNode` logs), and a RuntimeError still becomes Rasa's GraphRunError. `make train` runs plain
    `rasa train`, so models are trained through dask (`python -m rasa_runtime train` would use this).
    """
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    original = DaskGraphRunner.run
    if hasattr(original, "__wrapped__"):
        return

    def plan(self: Any, targets: tuple) -> list:
        """The targets' dependencies, each after its own (what `minimal_graph_schema` keeps), once per targets."""
        plans = self.__dict__.setdefault("_larkspur_plans", {})
        if targets not in plans:
            nodes = self._graph_schema.nodes
            order: dict[str, None] = {}  # insertion-ordered set

            def visit(name: str) -> None:
                if name in nodes and name not in order:
                    for dependency in nodes[name].needs.values():
                        visit(dependency)
                    order[name] = None

            for target in targets:
                visit(target)
            plans[targets] = [(name, list(nodes[name].needs.values())) for name in order]
        return plans[targets]

    def run(self: Any, inputs: dict[str, Any] | None = None, targets: list | None = None) -> dict[str, Any]:
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        steps = plan(self, run_targets)
        results: dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and any(value == step for step, _ in steps):
                raise GraphRunError(
                    f"Input value '{value}' clashes with a node name. Make sure that none of the "
                    "input names passed to the `run` method are the same as node names in the "
                    "graph schema."
                )
            results[name] = (name, value)
        try:
            for name, dependencies in steps:
                if name not in results:
                    results[name] = self._instantiated_nodes[name](*[results.get(d, d) for d in dependencies])
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(results[target] for target in run_targets)

    run.__wrapped__ = original  # type: ignore[attr-defined]
    DaskGraphRunner.run = run


# The patches in the order they are applied, each under the environment variable that switches it.
SWITCHES: dict[str, Callable[[], None]] = {
    "RASA_PATCH_VALIDATE_ONCE": validate_action_responses_once,
    "RASA_PATCH_EVENT_TYPES": resolve_event_types_once,
    "RASA_PATCH_GRAPH_RUNNER": run_graphs_without_dask,
    "RASA_PATCH_RATE_LIMITS": limit_abuse,  # rasa_runtime/rate_limit_middleware.py
    "RASA_PATCH_SECRET_MASKING": mask_secrets_before_saving,  # rasa_runtime/secret_masking.py
    "RASA_PATCH_ACTION_OUTAGE": answer_when_action_server_fails,  # rasa_runtime/action_server_outage.py
    "RASA_PATCH_JSON_ERRORS": answer_errors_as_json,  # rasa_runtime/json_errors.py
    "RASA_PATCH_FLAT_TURNS": keep_turns_flat,  # rasa_runtime/flat_turns.py
    "RASA_PATCH_METRICS": export_metrics,  # rasa_runtime/metrics.py
    "RASA_PATCH_IDEMPOTENT_TURNS": answer_retries_from_the_store,  # rasa_runtime/idempotent_turns.py
}


def switched_on(variable: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a patch's switch is on: `on` (the default, also when empty) or `off`; anything else is refused."""
    value = (os.environ if environ is None else environ).get(variable, "").strip().lower()
    if value in ("", "on"):
        return True
    if value == "off":
        return False
    raise ValueError(f"{variable}={value!r}: a patch switch is on or off")


def switches(environ: Mapping[str, str] | None = None) -> dict[str, bool]:
    """Every patch's switch, by its variable (a value other than on or off is refused)."""
    return {variable: switched_on(variable, environ) for variable in SWITCHES}


def apply_all(environ: Mapping[str, str] | None = None) -> dict[str, bool]:
    """Apply every patch whose switch is on, refusing a Rasa they were not written for.

    Returns each patch's name with whether it was applied. Every switch is read before anything is patched
    (a misspelt value patches nothing), and with every switch off Rasa is left as it is, on any version.
    """
    wanted = {SWITCHES[variable]: on for variable, on in switches(environ).items()}
    if any(wanted.values()):
        import rasa

        if rasa.__version__ != RASA_VERSION:
            raise RuntimeError(
                f"rasa_runtime/patches.py was written for rasa {RASA_VERSION}, found "
                f"{rasa.__version__}; check each patch against the new version (or switch them "
                f"off: {', '.join(f'{name}=off' for name in SWITCHES)})"
            )
    for patch, on in wanted.items():
        if on:
            patch()
    return {patch.__name__: on for patch, on in wanted.items()}
