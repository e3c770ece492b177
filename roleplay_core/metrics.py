"""Prometheus metrics (prometheus-client): ``GET /metrics`` for admins, or a port of its own.

Off unless ``metrics.enabled``; then every function here records, and is a no-op otherwise,
so the kernel and plugins call them unconditionally (plugins use this module, never
prometheus-client). Families, all prefixed ``roleplay_``:

- ``http_requests_total{route,method,status}``, ``http_request_duration_seconds{route,method}``:
  every HTTP request by route *template* (``<unmatched>`` for a 404), never the raw path;
- ``chat_turns_total{provider,outcome}``, ``chat_turn_duration_seconds{provider}``: a character's
  reply from the model provider, ``outcome`` ``ok`` or ``error``;
- ``evaluations_total{outcome}``, ``evaluation_duration_seconds{outcome}``;
- ``voice_calls_in_progress``, ``voice_relay_latency_seconds{direction}``,
  ``voice_relay_stalls_total{direction}``;
- ``storage_operations_total{backend,kind,outcome}``, ``storage_operation_duration_seconds{backend,kind}``:
  ``kind`` is get, put, delete or list; ``outcome`` ok, missing (a get of no record), conflict
  (a failed precondition) or error;
- ``plugin_start_failures_total{plugin}``.

**Several workers** (``roleplay serve --workers N``): prometheus-client's multiprocess mode.
``roleplay serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at an empty folder before the workers
start (``metrics.multiprocess_dir``, or a fresh temporary one), every worker writes its figures
there and whichever answers ``/metrics`` adds them all up; a worker that stops marks its live
gauges dead. One process (tests, ``--workers 1`` without the variable) uses the ordinary registry.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

#: Seconds buckets for requests, storage and turns: 1 ms to 30 s.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Seconds buckets for one relayed voice frame: 0.25 ms to 1 s.
RELAY_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class _Families:
    """The metric objects, created once per process (prometheus-client refuses a name twice)."""

    def __init__(self) -> None:
        # prometheus-client takes a *set* variable, even an empty one, for multiprocess mode, and then
        # writes its files into the working folder; for multiprocess_dir() empty means unset.
        for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
            if os.environ.get(name, None) == "":
                del os.environ[name]
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter("roleplay_http_requests_total", "HTTP requests by route template, method, status",
                                ["route", "method", "status"])
        self.request_seconds = Histogram("roleplay_http_request_duration_seconds", "HTTP request duration",
                                         ["route", "method"], buckets=BUCKETS)
        self.turns = Counter("roleplay_chat_turns_total", "Chat turns (a character's reply) by provider and outcome",
                             ["provider", "outcome"])
        self.turn_seconds = Histogram("roleplay_chat_turn_duration_seconds", "Chat turn duration", ["provider"],
                                      buckets=BUCKETS)
        self.evaluations = Counter("roleplay_evaluations_total", "Evaluations by outcome", ["outcome"])
        self.evaluation_seconds = Histogram("roleplay_evaluation_duration_seconds", "Evaluation duration",
                                            ["outcome"], buckets=BUCKETS)
        self.voice_calls = Gauge("roleplay_voice_calls_in_progress", "Live voice calls", multiprocess_mode="livesum")
        self.relay_seconds = Histogram("roleplay_voice_relay_latency_seconds", "Latency the voice relay adds",
                                       ["direction"], buckets=RELAY_BUCKETS)
        self.relay_stalls = Counter("roleplay_voice_relay_stalls_total", "Voice relay stalls", ["direction"])
        self.storage = Counter("roleplay_storage_operations_total", "Storage operations by backend, kind, outcome",
                               ["backend", "kind", "outcome"])
        self.storage_seconds = Histogram("roleplay_storage_operation_duration_seconds", "Storage operation duration",
                                         ["backend", "kind"], buckets=BUCKETS)
        self.plugin_failures = Counter("roleplay_plugin_start_failures_total", "Plugins that failed to start",
                                       ["plugin"])


_families: _Families | None = None
_on = False
# Recording adds to plain dicts in this process (about a microsecond); flush() hands the sums to
# prometheus-client, whose every inc() takes a lock and, with several workers, writes a mmapped
# file (5-9 us each, several per request: over the 5% budget). The app flushes every
# FLUSH_SECONDS, before it answers a scrape, and when it stops.
FLUSH_SECONDS = 1.0
_counts: dict[tuple[str, tuple[str, ...]], float] = {}
_observed: dict[tuple[str, tuple[str, ...]], list[float]] = {}  # [sum, count per bucket...]
# A counter and a histogram recorded together (a request, a storage operation) share one entry:
# one dictionary lookup per event, split into the two families at the flush. Keyed by the
# counter's labels; the histogram's are the first ``_PAIRS[name][2]`` of them.
_timed: dict[tuple[str, tuple[str, ...]], list[float]] = {}  # [count, sum, count per bucket...]
_PAIRS = {"requests": ("requests", "request_seconds", 2), "storage": ("storage", "storage_seconds", 2)}
# HTTP requests, the most frequent event, keyed by what the middleware has at hand: the route
# object, the method and the status (int). The labels (template, method name, status text) are made
# at the flush, once per key; making them per request cost more than the rest of the recording.
# Routes compare by value and are unhashable: a key holds the route's id(), and _http_routes holds the
# route itself until the flush, so no other object can take its id meanwhile.
_http: dict[tuple[int, str, int], list[float]] = {}  # [count, sum, count per bucket...]
_http_routes: dict[int, Any] = {}
# Storage operations (several per request) by their labels (backend, kind, outcome), same slots.
_storage: dict[tuple[str, str, str], list[float]] = {}
_BOUNDS: dict[str, tuple[float, ...]] = {}


def enable() -> None:
    """Start recording in this process (the app does this when ``metrics.enabled``)."""
    global _families, _on
    if _families is None:
        _families = _Families()
        for name in ("request_seconds", "turn_seconds", "evaluation_seconds", "relay_seconds", "storage_seconds"):
            _BOUNDS[name] = tuple(getattr(_families, name)._upper_bounds)
    _on = True


def disable() -> None:
    """Stop recording in this process (tests); figures so far are flushed and stay."""
    global _on
    flush()
    _on = False


def enabled() -> bool:
    return _on


def _count(family: str, labels: tuple[str, ...], amount: float = 1.0) -> None:
    key = (family, labels)
    _counts[key] = _counts.get(key, 0.0) + amount


def _observe(family: str, labels: tuple[str, ...], seconds: float) -> None:
    key = (family, labels)
    slots = _observed.get(key)
    if slots is None:
        slots = _observed[key] = [0.0] * (len(_BOUNDS[family]) + 1)
    slots[0] += seconds
    slots[1 + bisect.bisect_left(_BOUNDS[family], seconds)] += 1  # a bucket holds values <= its bound


def observe_http(scope: Any, status: int, seconds: float) -> None:
    """One finished HTTP request (the app's observer for ``KernelMiddleware``): its scope's route
    and method, its status and duration."""
    if _on:
        route = scope.get("route")
        _http_routes[id(route)] = route
        _tally(_http, (id(route), scope["method"], status), seconds)


def _tally(table: dict[Any, list[float]], key: Any, seconds: float) -> None:
    """Count one event of ``key`` that took ``seconds``: ``[count, sum, count per bucket...]``."""
    slots = table.get(key)
    if slots is None:
        slots = table[key] = [0.0] * (len(BUCKETS) + 3)
    slots[0] += 1
    slots[1] += seconds
    slots[2 + bisect.bisect_left(BUCKETS, seconds)] += 1  # a bucket holds values <= its bound


def flush() -> None:
    """Hand what this process recorded since the last flush to prometheus-client."""
    global _counts, _observed, _timed, _http, _http_routes, _storage
    if _families is None or not (_counts or _observed or _timed or _http or _storage):
        return
    counts, observed, timed, http, routes, storage = _counts, _observed, _timed, _http, _http_routes, _storage
    _counts, _observed, _timed, _http, _http_routes, _storage = {}, {}, {}, {}, {}, {}
    from .middleware import method_label, template_of

    merging = [(("requests", (template_of(routes[route]), method_label(method), str(status))), slots)
               for (route, method, status), slots in http.items()]
    merging += [(("storage", labels), slots) for labels, slots in storage.items()]
    for key, slots in merging:
        merged = timed.get(key)
        if merged is None:
            timed[key] = slots
        else:
            for index, value in enumerate(slots):
                merged[index] += value
    for (pair, labels), slots in timed.items():
        counter, histogram, kept = _PAIRS[pair]
        counts[(counter, labels)] = counts.get((counter, labels), 0.0) + slots[0]
        merged = observed.get((histogram, labels[:kept]))
        if merged is None:
            observed[(histogram, labels[:kept])] = slots[1:]
        else:
            for index, value in enumerate(slots[1:]):
                merged[index] += value
    for (family, labels), amount in counts.items():
        getattr(_families, family).labels(*labels).inc(amount)
    for (family, labels), slots in observed.items():
        child = getattr(_families, family).labels(*labels)
        child._sum.inc(slots[0])  # Histogram.observe() does these two steps for one value at a time
        for index, count in enumerate(slots[1:]):
            if count:
                child._buckets[index].inc(count)


async def flush_every(seconds: float = FLUSH_SECONDS) -> None:
    """Flush until cancelled (the app's lifespan runs this while metrics are on)."""
    while True:
        await asyncio.sleep(seconds)
        flush()


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    if _on:
        _tally(_timed, ("requests", (route, method, str(status))), seconds)


def storage_operation(backend: str, kind: str, outcome: str, seconds: float) -> None:
    if _on:
        _tally(_storage, (backend, kind, outcome), seconds)


def chat_turn(provider: str, outcome: str, seconds: float) -> None:
    """A character's reply finished: ``outcome`` is ``ok`` or ``error``."""
    if _on:
        _count("turns", (provider, outcome))
        _observe("turn_seconds", (provider,), seconds)


def evaluation(outcome: str, seconds: float) -> None:
    """An evaluation finished: ``outcome`` is ``done`` or ``failed`` (or another final state)."""
    if _on:
        _count("evaluations", (outcome,))
        _observe("evaluation_seconds", (outcome,), seconds)


@contextlib.contextmanager
def voice_call() -> Iterator[None]:
    """Count a live voice call while the block runs."""
    if not _on:
        yield
        return
    _families.voice_calls.inc()
    try:
        yield
    finally:
        _families.voice_calls.dec()


def relay_latency(direction: str, seconds: float) -> None:
    if _on:
        _observe("relay_seconds", (direction,), seconds)


def relay_stall(direction: str) -> None:
    if _on:
        _count("relay_stalls", (direction,))


def plugin_start_failure(plugin: str) -> None:
    if _on:
        _count("plugin_failures", (plugin,))


@contextlib.contextmanager
def timed_turn(provider: str) -> Iterator[None]:
    """Time a chat turn; an exception out of the block counts as ``error`` (and goes on)."""
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        chat_turn(provider, "error", time.perf_counter() - started)
        raise
    chat_turn(provider, "ok", time.perf_counter() - started)


# -- exposition ----------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


def registry() -> Any:
    """What a scrape reads: every worker's files in multiprocess mode, else this process's registry."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    if multiprocess_dir():
        collected = CollectorRegistry()
        MultiProcessCollector(collected)
        return collected
    return REGISTRY


def exposition() -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    flush()  # this process's figures up to now (other workers' are at most FLUSH_SECONDS old)
    return generate_latest(registry()), CONTENT_TYPE_LATEST


async def endpoint(request: Request) -> Response:
    """``GET /metrics`` on the app: admins only (401 without a token, 403 for others)."""
    from .security import current_principal

    current_principal(request, "admin")
    body, content_type = exposition()
    return Response(body, media_type=content_type)


def process_exit() -> None:
    """Flush, and mark this worker's live gauges dead (multiprocess mode), as a worker stops."""
    flush()
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


def serve_port(host: str, port: int) -> Any:
    """Serve ``/metrics`` without authentication on ``host:port`` (a thread; ``roleplay serve`` calls it)."""
    from prometheus_client import start_http_server

    return start_http_server(port, addr=host, registry=registry())


def prepare_multiprocess(folder: str | None) -> str:
    """Point ``PROMETHEUS_MULTIPROC_DIR`` at an empty folder before workers start; return it."""
    import shutil
    import tempfile

    path = folder or os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="roleplay-metrics-")
    os.makedirs(path, mode=0o700, exist_ok=True)
    for entry in os.scandir(path):  # figures of an earlier run would be added to this one's
        if entry.is_file() and entry.name.endswith(".db"):
            os.unlink(entry.path)
        elif entry.is_dir():
            shutil.rmtree(entry.path)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


#: What plugins may call: recording figures. Enabling, flushing and serving are the kernel's.
__all__ = ["chat_turn", "evaluation", "observe_request", "plugin_start_failure", "relay_latency", "relay_stall",
           "storage_operation", "timed_turn", "voice_call"]
