"""Fixes to Rasa 3.6.21 that this project carries, applied by `launcher.rasa_server` before Rasa starts.

Each patch names the Rasa code it replaces and keeps its behaviour; `tests/unit/test_rasa_patches.py` checks
both. Remove a patch when the pinned Rasa no longer needs it.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

RASA_VERSION = "3.6.21"


def validate_action_responses_once() -> None:
    """Build the validator for the action server's answers once instead of on every custom-action call.

    `RemoteAction._validate_action_result` calls `jsonschema.validate`, which re-checks the constant schema
    itself before every validation: in the serving benchmark that was a fifth of a Rasa process's CPU, as
    each turn runs two or three custom actions (README, Performance). Same validation, same error message.
    """
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for

    import rasa.core.actions.action as action

    schema = action.RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)
    original = action.RemoteAction._validate_action_result

    def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
        try:
            validator.validate(result)
        except ValidationError as error:
            error.message += (". Failed to validate Action server response from API, make sure your response "
                              "from the Action endpoint is valid.")
            raise
        return True

    _validate_action_result.__wrapped__ = original  # type: ignore[attr-defined]
    action.RemoteAction._validate_action_result = _validate_action_result


def resolve_event_types_once() -> None:
    """Look an event class up by its type name once instead of walking Event's subclasses on every event.

    `Event.resolve_by_type` rebuilds the list of all Event subclasses (recursively, with an `isabstract`
    check each) for every event it deserialises: building a tracker from its stored rows and reading an
    action server's answer do that for each event. In the tracker store's benchmark that was a fifth of a
    turn's store time. Found classes are remembered by type name; an unknown name still goes to Rasa's
    lookup (so a subclass imported later is found, and the error for an unknown name is Rasa's).
    """
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    if hasattr(original, "__wrapped__"):
        return
    found: Dict[str, Any] = {}

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
    call, and dask's synchronous scheduler then orders and dispatches a handful of nodes: about a quarter of
    a policy prediction's time on our model. The nodes, their inputs and their outputs are the same: each
    node is called with its dependencies' `(name, output)` pairs in the schema's order, an input named like
    a node replaces it, a dependency nobody provides is passed as its bare name (dask's behaviour, which
    `GraphNode` logs), and a RuntimeError still becomes Rasa's GraphRunError. Serving only: `rasa train`
    does not go through the launcher.
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
            order: Dict[str, None] = {}  # insertion-ordered set

            def visit(name: str) -> None:
                if name in nodes and name not in order:
                    for dependency in nodes[name].needs.values():
                        visit(dependency)
                    order[name] = None

            for target in targets:
                visit(target)
            plans[targets] = [(name, list(nodes[name].needs.values())) for name in order]
        return plans[targets]

    def run(self: Any, inputs: Optional[Dict[str, Any]] = None, targets: Optional[list] = None) -> Dict[str, Any]:
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        steps = plan(self, run_targets)
        results: Dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and any(value == step for step, _ in steps):
                raise GraphRunError(f"Input value '{value}' clashes with a node name. Make sure that none of the "
                                    "input names passed to the `run` method are the same as node names in the "
                                    "graph schema.")
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


class _Borrowed:
    """`async with` over a shared ClientSession that leaves it open (Rasa closes what `session()` returns)."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        return None


def keep_endpoint_connections() -> None:
    """Reuse one HTTP client session (and its keep-alive connections) per endpoint instead of one per call.

    `EndpointConfig.request` opens a new aiohttp ClientSession for every request and closes it after, so every
    custom action (two or three a turn) paid for a new connector and a TCP handshake with the action server,
    and the action server for accepting it. The shared session has the same headers, auth and timeout, and
    belongs to the event loop that made it (a new one is made for another loop, or after it was closed). Idle
    connections are dropped after 2 s, before the action server's (Sanic's) 5 s keep-alive ends, so a
    request never goes out on a connection the server is closing.
    """
    import asyncio

    import aiohttp
    from rasa.utils.endpoints import EndpointConfig

    original = EndpointConfig.session
    if hasattr(original, "__wrapped__"):
        return

    def session(self: Any) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return original(self)
        owner, shared = self.__dict__.get("_larkspur_session", (None, None))
        if shared is None or shared.closed or owner is not loop:
            rasas = original(self)  # only for Rasa's headers, auth and timeout; it never connected
            shared = aiohttp.ClientSession(headers=rasas.headers, auth=rasas.auth, timeout=rasas.timeout,
                                           connector=aiohttp.TCPConnector(keepalive_timeout=2.0))
            rasas.detach()  # closed without a coroutine: its connector holds no connection
            self.__dict__["_larkspur_session"] = (loop, shared)
        return _Borrowed(shared)

    session.__wrapped__ = original  # type: ignore[attr-defined]
    EndpointConfig.session = session


def apply_all() -> None:
    """Apply every patch, refusing a Rasa they were not written for."""
    import rasa

    if rasa.__version__ != RASA_VERSION:
        raise RuntimeError(f"launcher/rasa_patches.py was written for rasa {RASA_VERSION}, found {rasa.__version__}; "
                           "check each patch against the new version")
    validate_action_responses_once()
    resolve_event_types_once()
    run_graphs_without_dask()
    keep_endpoint_connections()
