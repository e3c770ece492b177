"""Prometheus metrics: GET /metrics for admins, the families the issue lists, several processes."""

import os
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from roleplay_core import create_app, hookimpl, metrics
from roleplay_core.testing import auth_headers, make_kernel, metric_sample


@pytest.fixture(autouse=True)
def metrics_off_after():
    yield
    metrics.disable()  # the families stay registered (one set per process); recording stops


def scrape(client, app) -> str:
    response = client.get("/metrics", headers=auth_headers(app, "root", ("admin",)))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_metrics_are_admin_only_and_count_requests_storage_and_chat_turns():
    pytest.importorskip("roleplay_chat")
    app = create_app(make_kernel({"metrics.enabled": True, "chat.limits.messages_per_minute": 0}))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=auth_headers(app, "u1")).status_code == 403
        before = scrape(client, app)
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
        assert client.get("/chat/sessions/nope-123", headers=auth_headers(app, "u1")).status_code == 404
        assert client.get("/no/such/route").status_code == 404
        assert client.request("BREW", "/healthz").status_code == 405
        headers = auth_headers(app, "u1")
        created = client.post("/chat/sessions", json={"scenario_id": "refund-angry-customer"}, headers=headers)
        assert created.status_code == 201, created.text
        sent = client.post(f"/chat/sessions/{created.json()['id']}/messages", json={"text": "Hello, how can I help?"},
                           headers=headers)
        assert sent.status_code == 201, sent.text
        after = scrape(client, app)

    def grew(name, **labels):
        return metric_sample(after, name, **labels) - metric_sample(before, name, **labels)

    assert grew("roleplay_http_requests_total", route="/healthz", method="GET", status="200") == 3
    assert grew("roleplay_http_request_duration_seconds_count", route="/healthz", method="GET") == 3
    assert grew("roleplay_http_requests_total", route="/chat/sessions/{session_id}", method="GET", status="404") == 1
    assert grew("roleplay_http_requests_total", route="<unmatched>", method="GET", status="404") == 1
    assert grew("roleplay_http_requests_total", route="/healthz", method="OTHER", status="405") == 1
    assert "nope-123" not in after and "/no/such/route" not in after  # templates only, never raw paths
    assert grew("roleplay_storage_operations_total", backend="memory", kind="get", outcome="ok") >= 1
    assert grew("roleplay_storage_operations_total", backend="memory", kind="get", outcome="missing") >= 1
    assert grew("roleplay_storage_operations_total", backend="memory", kind="put", outcome="ok") >= 1
    assert grew("roleplay_storage_operation_duration_seconds_count", backend="memory", kind="put") >= 1
    assert grew("roleplay_chat_turns_total", provider="scripted", outcome="ok") == 1
    assert grew("roleplay_chat_turn_duration_seconds_count", provider="scripted") == 1
    for family in ("roleplay_evaluations_total", "roleplay_evaluation_duration_seconds",
                   "roleplay_voice_calls_in_progress", "roleplay_voice_relay_latency_seconds",
                   "roleplay_voice_relay_stalls_total", "roleplay_plugin_start_failures_total"):
        assert f"# TYPE {family} " in after, family


def test_a_request_recorded_once_feeds_its_counter_and_its_histogram():
    import uuid

    metrics.enable()
    route = f"/merge-{uuid.uuid4().hex[:8]}"  # the families are per process: a route of this test's own
    for status, seconds in ((200, 0.0004), (200, 0.02), (404, 3.0)):
        metrics.observe_request(route, "GET", status, seconds)
    metrics.flush()
    metrics.observe_request(route, "GET", 200, 0.0004)  # a second flush adds to the first
    metrics.flush()
    body = metrics.exposition()[0].decode()
    assert metric_sample(body, "roleplay_http_requests_total", route=route, method="GET", status="200") == 3
    assert metric_sample(body, "roleplay_http_requests_total", route=route, method="GET", status="404") == 1
    # The histogram has no status label: every status of the route and method adds to it.
    assert metric_sample(body, "roleplay_http_request_duration_seconds_count", route=route, method="GET") == 4
    assert metric_sample(body, "roleplay_http_request_duration_seconds_sum", route=route, method="GET") == pytest.approx(3.0208)
    assert metric_sample(body, "roleplay_http_request_duration_seconds_bucket", route=route, method="GET", le="0.001") == 2
    assert metric_sample(body, "roleplay_http_request_duration_seconds_bucket", route=route, method="GET", le="0.025") == 3
    assert metric_sample(body, "roleplay_http_request_duration_seconds_bucket", route=route, method="GET", le="2.5") == 3
    assert metric_sample(body, "roleplay_http_request_duration_seconds_bucket", route=route, method="GET", le="5.0") == 4


def test_requests_recorded_by_route_object_get_their_labels_at_the_flush():
    """The app's observer keys a request by its route object, method and status; the flush turns
    those into the same labels (template, bounded method, status text) as observe_request."""
    import uuid

    from starlette.routing import Mount, Route

    metrics.enable()
    tag = uuid.uuid4().hex[:8]
    route = Route(f"/object-{tag}/{{item_id}}", lambda request: None)
    mount = Mount(f"/files-{tag}", routes=[])
    metrics.observe_http({"route": route, "method": "GET"}, 200, 0.0004)
    metrics.observe_http({"route": route, "method": "GET"}, 200, 0.02)
    metrics.observe_request(f"/object-{tag}/{{item_id}}", "GET", 200, 3.0)  # the same series, by its labels
    metrics.observe_http({"route": mount, "method": "BREW"}, 418, 0.001)
    metrics.flush()
    body = metrics.exposition()[0].decode()
    template = f"/object-{tag}/{{item_id}}"
    assert metric_sample(body, "roleplay_http_requests_total", route=template, method="GET", status="200") == 3
    assert metric_sample(body, "roleplay_http_request_duration_seconds_count", route=template, method="GET") == 3
    assert metric_sample(body, "roleplay_http_request_duration_seconds_bucket", route=template, method="GET",
                         le="0.001") == 1
    assert metric_sample(body, "roleplay_http_request_duration_seconds_bucket", route=template, method="GET",
                         le="0.025") == 2
    assert metric_sample(body, "roleplay_http_requests_total", route=f"/files-{tag}/{{path}}", method="OTHER",
                         status="418") == 1


def test_a_separate_port_means_no_route_on_the_app():
    app = create_app(make_kernel({"metrics.enabled": True, "metrics.port": 9999}, load_entry_points=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/metrics", headers=auth_headers(app, "root", ("admin",))).status_code == 404


def test_metrics_off_by_default_no_route():
    app = create_app(make_kernel(load_entry_points=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/metrics", headers=auth_headers(app, "root", ("admin",))).status_code == 404
    assert not metrics.enabled()


def test_a_plugin_that_fails_to_start_is_counted():
    class Broken:
        name = "broken"

        @hookimpl
        def startup(self, kernel):
            raise RuntimeError("no database")

    app = create_app(make_kernel({"metrics.enabled": True}, plugins=[Broken()], load_entry_points=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        before = metric_sample(scrape(client, app), "roleplay_plugin_start_failures_total", plugin="broken")
    app = create_app(make_kernel({"metrics.enabled": True}, plugins=[Broken()], load_entry_points=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert metric_sample(scrape(client, app), "roleplay_plugin_start_failures_total", plugin="broken") == before + 1


WORKER = """
import sys
from roleplay_core import metrics
metrics.enable()
for _ in range(int(sys.argv[1])):
    metrics.observe_request("/healthz", "GET", 200, 0.002)
with metrics.voice_call():
    pass
metrics.flush()  # a worker's app does this every second and as it stops
"""


def test_several_processes_add_up_in_one_scrape(tmp_path, monkeypatch):
    folder = str(tmp_path / "prom")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder}
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", folder)
    assert metrics.prepare_multiprocess(folder) == folder  # an empty folder before the workers start
    for count in (3, 4):  # two worker processes, one after the other
        subprocess.run([sys.executable, "-c", WORKER, str(count)], env=env, check=True, timeout=60)
    from prometheus_client import generate_latest

    body = generate_latest(metrics.registry()).decode()
    assert metric_sample(body, "roleplay_http_requests_total", route="/healthz", method="GET", status="200") == 7
    assert metric_sample(body, "roleplay_http_request_duration_seconds_count", route="/healthz", method="GET") == 7
    # A fresh run starts from nothing: the files of the last one are wiped.
    metrics.prepare_multiprocess(folder)
    assert metric_sample(generate_latest(metrics.registry()).decode(), "roleplay_http_requests_total") == 0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(tmp_path, workers: int, settings: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """``roleplay serve`` as operators run it, with these ``ROLEPLAY_*`` settings; waits until it answers."""
    import time

    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROLEPLAY_", "PROMETHEUS_"))}
    env.update({"ROLEPLAY_ENV": "development", "ROLEPLAY_STORAGE__FILE__ROOT": str(tmp_path / "data"),
                "ROLEPLAY_METRICS__ENABLED": "true", **settings})
    process = subprocess.Popen([sys.executable, "-m", "roleplay_core", "serve", "--port", str(port),
                                "--workers", str(workers)],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            return process, port
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise AssertionError(f"server did not start:\n{process.stdout.read().decode()}") from None
            time.sleep(0.2)


def scraped_count(metrics_port: int, expected: float) -> float:
    """The served /healthz count on the metrics port, once it reaches ``expected`` (or 15 s passed)."""
    import time

    import httpx

    deadline = time.monotonic() + 15
    while True:  # each worker hands its figures over every second
        body = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        counted = metric_sample(body, "roleplay_http_requests_total", route="/healthz", method="GET", status="200")
        if counted == expected or time.monotonic() > deadline:
            return counted
        time.sleep(0.25)


def test_roleplay_serve_with_two_workers_scrapes_every_worker_and_logs_json(tmp_path):
    """The real command: two worker processes, metrics on a port of their own, JSON log lines."""
    import json

    import httpx

    metrics_port = free_port()
    process, port = serve(tmp_path, 2, {"ROLEPLAY_METRICS__PORT": str(metrics_port),
                                        "ROLEPLAY_METRICS__MULTIPROCESS_DIR": str(tmp_path / "prom"),
                                        "ROLEPLAY_SERVER__LOG_FORMAT": "json"})
    try:
        for _ in range(40):  # new connections: the kernel spreads them over both workers
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Connection": "close"}).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 404  # on its own port instead
        assert scraped_count(metrics_port, 40) == 40
        pids = {f.name for f in (tmp_path / "prom").iterdir()}
        assert len({name.rsplit("_", 1)[-1] for name in pids}) >= 2, pids  # files from two worker processes
    finally:
        process.terminate()
        process.wait(30)
    lines = [line for line in process.stdout.read().decode().splitlines() if line.startswith("{")]
    access = [json.loads(line) for line in lines if '"roleplay.access"' in line]
    assert len(access) >= 40 and all(r["route"] == "/healthz" or r["status"] for r in access)
    assert {"request_id", "route", "status", "duration_ms"} <= set(access[0])


def test_roleplay_serve_with_one_worker_keeps_its_figures_in_memory(tmp_path):
    """One process needs no multiprocess files: no folder is made and none is written, and the
    metrics port (a thread of the same process) still sees every request."""
    import httpx

    (tmp_path / "tmp").mkdir()
    metrics_port = free_port()
    process, port = serve(tmp_path, 1, {"ROLEPLAY_METRICS__PORT": str(metrics_port), "TMPDIR": str(tmp_path / "tmp")})
    try:
        for _ in range(25):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert scraped_count(metrics_port, 25) == 25
    finally:
        process.terminate()
        process.wait(30)
    assert not list((tmp_path / "tmp").iterdir()), "a multiprocess folder was made for one process"
    assert not list(tmp_path.rglob("*.db")), "prometheus-client wrote multiprocess files"


def test_an_evaluation_is_counted_by_outcome_with_its_duration():
    pytest.importorskip("roleplay_evaluator")
    pytest.importorskip("roleplay_chat")
    import time

    app = create_app(make_kernel({"metrics.enabled": True, "chat.limits.messages_per_minute": 0}))
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = auth_headers(app, "u-eval")
        before = scrape(client, app)
        session = client.post("/chat/sessions", json={"scenario_id": "refund-angry-customer"}, headers=headers).json()
        for text in ("Hello, I'm sorry about the trouble.", "Let me check your order and refund it."):
            assert client.post(f"/chat/sessions/{session['id']}/messages", json={"text": text},
                               headers=headers).status_code == 201
        created = client.post("/evaluations", json={"session_id": session["id"]}, headers=headers)
        assert created.status_code in (201, 202), created.text
        deadline = time.monotonic() + 30
        while client.get(f"/evaluations/{created.json()['id']}", headers=headers).json()["status"] == "pending":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        after = scrape(client, app)
    assert metric_sample(after, "roleplay_evaluations_total", outcome="done") == \
        metric_sample(before, "roleplay_evaluations_total", outcome="done") + 1
    assert metric_sample(after, "roleplay_evaluation_duration_seconds_count", outcome="done") == \
        metric_sample(before, "roleplay_evaluation_duration_seconds_count", outcome="done") + 1


def test_an_empty_multiprocess_variable_means_one_process_and_no_files_in_the_working_folder(tmp_path):
    """prometheus-client takes a set-but-empty PROMETHEUS_MULTIPROC_DIR for multiprocess mode and
    writes its files into the working folder; Roleplay reads empty as unset, so must it."""
    program = (
        "from starlette.testclient import TestClient\n"
        "from roleplay_core import create_app, metrics\n"
        "from roleplay_core.testing import auth_headers, make_kernel, metric_sample\n"
        "app = create_app(make_kernel({'metrics.enabled': True}, load_entry_points=False))\n"
        "with TestClient(app) as client:\n"
        "    client.get('/healthz')\n"
        "    metrics.flush()\n"
        "    body = client.get('/metrics', headers=auth_headers(app, 'root', ('admin',))).text\n"
        "print(metric_sample(body, 'roleplay_http_requests_total', route='/healthz', method='GET', status='200'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEPLAY_")}
    env.update({"PROMETHEUS_MULTIPROC_DIR": "", "ROLEPLAY_ENV": "development",
                "ROLEPLAY_STORAGE__FILE__ROOT": str(tmp_path / "data")})
    done = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip().splitlines()[-1]) == 1.0
    assert not list(tmp_path.glob("*.db")), "prometheus-client wrote multiprocess files into the working folder"
