"""The Bench operator written the way a kopf user writes it.

Handlers for Bench creation, update and resumption make the Bench's ConfigMap match its spec and record the
generation in the status; an event handler for the ConfigMaps that Benches own repairs one changed or deleted by
hand. In-memory indexes of both kinds serve as the cache: kopf fills them from its watches before any handler runs.
API writes go through the official `kubernetes` client, as in kopf's documentation; kopf itself talks to the
apiserver with its own aiohttp client, logged in from KUBECONFIG.

Run with `kopf run --quiet --standalone --namespace $BENCH_NAMESPACE operator.py` (`--quiet`: warnings and errors
only, to stderr; `--standalone`: no peering). Environment: KUBECONFIG, BENCH_WORKERS. kopf has no periodic resync:
BENCH_RESYNC_SECONDS is ignored (a warning says so). The file is loaded by kopf, never run as a script: its name
would shadow the standard library's `operator` module for a script in this folder.
"""

import logging
import os
from typing import Any, NamedTuple

import kopf
import kubernetes

GROUP, VERSION, PLURAL = "bench.converge.dev", "v1", "benches"
API_VERSION = f"{GROUP}/{VERSION}"

logger = logging.getLogger("bench")
core: kubernetes.client.CoreV1Api


class BenchRef(NamedTuple):
    """What a ConfigMap's repair needs to know about its owner."""

    uid: str
    value: str


def workers() -> int:
    raw = os.environ.get("BENCH_WORKERS", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"BENCH_WORKERS must be a positive integer, got {raw!r}")
    return int(raw)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    global core
    n = workers()
    # The handlers are synchronous, so kopf runs them in its thread pool: its size is the number of reconciles in
    # flight (the default, min(32, CPUs + 4), would be 6 here). settings.queueing.worker_limit stays unlimited:
    # with indexes, a limit below the number of objects deadlocks the start (kopf issue #1243), as every
    # object's worker waits for all objects to be indexed while holding a slot.
    settings.execution.max_workers = n
    if os.environ.get("BENCH_RESYNC_SECONDS"):
        logger.warning("kopf has no periodic resync; BENCH_RESYNC_SECONDS is ignored")

    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(client_configuration=config)
    # urllib3 keeps CPUs * 5 connections by default; with more threads it opens and drops extra ones.
    config.connection_pool_maxsize = max(config.connection_pool_maxsize, n)
    core = kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(config))


def controller_of(meta: kopf.Meta | dict[str, Any]) -> dict[str, Any] | None:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("apiVersion") == API_VERSION and ref.get("kind") == "Bench":
            return ref
    return None


def owned_by_bench(meta: kopf.Meta, **_: Any) -> bool:
    return controller_of(meta) is not None


@kopf.index(GROUP, VERSION, PLURAL)
async def benches(name: str, uid: str, spec: kopf.Spec, **_: Any) -> dict[str, BenchRef]:
    return {name: BenchRef(uid, spec.get("value", ""))}


@kopf.index("configmaps", when=owned_by_bench)
async def config_map_values(name: str, body: kopf.Body, **_: Any) -> dict[str, str | None]:
    return {name: (body.get("data") or {}).get("value")}


def first(store: kopf.Store[Any] | None) -> Any:
    return next(iter(store), None) if store is not None else None


def ensure_config_map(
    namespace: str, name: str, owner: kopf.Body | dict[str, Any], value: str, exists: bool, current: str | None
) -> None:
    """Creates the ConfigMap when it does not exist, or patches its value when `current` differs."""
    if not exists:
        config_map: dict[str, Any] = {"metadata": {"name": name}, "data": {"value": value}}
        kopf.adopt(config_map, owner=owner)  # controller reference, namespace
        try:
            core.create_namespaced_config_map(namespace, config_map)
        except kubernetes.client.ApiException as err:
            # The index was behind: the ConfigMap exists, and its event reaches config_map_changed, which repairs it.
            if err.status != 409:
                raise
    elif current != value:
        core.patch_namespaced_config_map(name, namespace, {"data": {"value": value}})


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
def reconcile(
    name: str,
    namespace: str,
    body: kopf.Body,
    spec: kopf.Spec,
    meta: kopf.Meta,
    status: kopf.Status,
    patch: kopf.Patch,
    config_map_values: kopf.Index[str, str | None],
    **_: Any,
) -> None:
    exists = name in config_map_values
    current = first(config_map_values[name]) if exists else None
    ensure_config_map(namespace, name, body, spec.get("value", ""), exists, current)
    if status.get("observedGeneration") != meta.get("generation"):
        patch.status["observedGeneration"] = meta.get("generation")  # kopf patches it through /status


@kopf.on.event("configmaps", when=owned_by_bench)
def config_map_changed(
    event: kopf.RawEvent,
    name: str,
    namespace: str,
    body: kopf.Body,
    meta: kopf.Meta,
    benches: kopf.Index[str, BenchRef],
    **_: Any,
) -> None:
    ref = controller_of(meta)
    bench: BenchRef | None = first(benches.get(ref["name"])) if ref else None
    if ref is None or bench is None or bench.uid != ref.get("uid"):
        return  # the owner is gone (or was replaced): nothing to repair
    owner = {
        "apiVersion": API_VERSION,
        "kind": "Bench",
        "metadata": {"name": ref["name"], "namespace": namespace, "uid": bench.uid},
    }
    exists = event.get("type") != "DELETED"
    ensure_config_map(namespace, name, owner, bench.value, exists, (body.get("data") or {}).get("value"))
