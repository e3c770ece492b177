"""The API contract, proven against a running server: schemathesis fuzzing and a generated client.

One uvicorn process (every installed plugin, file storage in a temporary folder, loopback) serves
both tests. ``schemathesis run`` reads ``/openapi.json`` and tries every operation with positive and
negative data, through the examples, coverage, fuzzing and stateful phases (the documents' links
chain create -> read -> update -> delete). It must find nothing, and its HAR log must show no 5xx
and only ``application/problem+json`` 4xx answers. Then ``openapi-python-client`` generates a
client from the same document, and that client registers, picks a scenario, starts a session,
says something and gets an evaluation. Test home of nothing new: the documents themselves are
``tests/test_openapi.py``'s; this is their proof from the outside.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from roleplay_core.testing import free_port

pytest.importorskip("roleplay_chat", reason="the contract is checked with every shipped plugin installed")
pytest.importorskip("roleplay_evaluator", reason="the contract is checked with every shipped plugin installed")

ADMIN = {"email": "admin@example.org", "password": "quiet harbour lantern 17"}
#: Cases per operation and phase: enough to find what the runs below found, bounded for CI (~25 s).
MAX_EXAMPLES = 5


def _tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    if found.exists():
        return str(found)
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (the root test extra brings it)")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("contract")
    port = free_port()
    settings = {
        "storage.backend": "file", "storage.file.root": str(folder / "data"), "storage.file.fsync": False,
        "auth.bootstrap_admin.email": ADMIN["email"], "auth.bootstrap_admin.password": ADMIN["password"],
        # Limits answer 429 (documented) after a few requests: off, so the fuzzer reaches the handlers.
        "auth.registration.per_address.max": 0, "chat.limits.sessions_per_day": 0,
        "chat.limits.messages_per_minute": 0, "evaluator.daily_limit": 0,
    }
    log = (folder / "server.log").open("w")
    environment = {**os.environ, "ROLEPLAY_ENV": "development", "ROLEPLAY_TEST_SETTINGS": json.dumps(settings),
                   "ROLEPLAY_TEST_PLUGINS": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "roleplay_core.testing:server_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], env=environment, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (folder / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the server did not become ready"
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield base, folder
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _admin_token(base: str) -> str:
    answer = httpx.post(f"{base}/auth/login", json=ADMIN, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


#: Business rules beyond a schema (a password policy, an id that must exist, If-Match) answer 4xx to
#: schema-valid data by design; object-level authorization needs a second identity schemathesis lacks.
EXCLUDED_CHECKS = "positive_data_acceptance,object_level_authorization"

CONFIG = """
[checks.missing_required_header]
# 428 Precondition Required (RFC 6585) is the answer to a write without its If-Match.
expected-statuses = [400, 401, 403, 406, 415, 422, 428]

[[operations]]
# schemathesis' coverage phase treats every property of a schema without "required" as required and
# then expects {"preferred_language": null} (display_name "missing") to be refused; both are optional.
include-operation-id = "patch_users_me"
checks.negative_data_rejection.enabled = false
"""


def test_schemathesis_finds_no_server_error_and_no_contract_violation(server, tmp_path):
    base, folder = server
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    har = tmp_path / "run.har"
    started = time.monotonic()
    run = subprocess.run(
        [_tool("schemathesis"), "--config-file", str(tmp_path / "schemathesis.toml"), "run",
         f"{base}/openapi.json", "--header", f"Authorization: Bearer {_admin_token(base)}", "--checks", "all",
         "--exclude-checks", EXCLUDED_CHECKS, "--mode", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", "15", "--workers", "1", "--no-shrink",
         "--phases", "examples,coverage,fuzzing,stateful", "--report", "har", "--report-har-path", str(har),
         "--output-truncate", "true"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    seconds = time.monotonic() - started
    summary = run.stdout[run.stdout.find("SUMMARY"):] if "SUMMARY" in run.stdout else run.stdout[-4000:]
    assert run.returncode == 0, f"{run.stdout[-12000:]}\n{run.stderr[-3000:]}"
    tested = re.search(r"Tested: (\d+)", summary)
    generated = re.search(r"(\d+) generated", summary)
    assert tested and int(tested.group(1)) >= 60, summary
    entries = json.loads(har.read_text())["log"]["entries"]
    statuses: dict[int, int] = {}
    for entry in entries:
        status = entry["response"]["status"]
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500 or status == 503 and "failed to start" in entry["response"]["content"].get("text", ""), \
            (entry["request"]["method"], entry["request"]["url"], status)
        if 400 <= status < 500:
            kind = next((h["value"] for h in entry["response"]["headers"] if h["name"].lower() == "content-type"), "")
            assert kind.split(";")[0] == "application/problem+json", (entry["request"]["url"], status, kind)
    assert not [s for s in statuses if s >= 500], statuses
    assert "Traceback" not in (folder / "server.log").read_text()
    # The figures for the closing note of issue 15 (pytest -s shows them).
    print(f"\nschemathesis: {tested.group(1)} operations, {generated.group(1) if generated else '?'} cases, "
          f"{len(entries)} requests in {seconds:.1f} s; statuses {dict(sorted(statuses.items()))}")


def test_a_generated_client_registers_practises_and_gets_an_evaluation(server, tmp_path):
    base, _ = server
    document = tmp_path / "openapi.json"
    document.write_text(httpx.get(f"{base}/openapi.json", timeout=10).text)
    (tmp_path / "config.yaml").write_text("post_hooks: []\npackage_name_override: roleplay_client\n")
    generated = subprocess.run(
        [_tool("openapi-python-client"), "generate", "--path", str(document), "--meta", "none",
         "--output-path", str(tmp_path / "roleplay_client"), "--config", str(tmp_path / "config.yaml")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert generated.returncode == 0 and "Warning" not in generated.stdout, generated.stdout + generated.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("roleplay_client")
        auth_api = importlib.import_module("roleplay_client.api.auth.post_auth_register")
        scenarios_api = importlib.import_module("roleplay_client.api.chat.get_chat_scenarios")
        sessions_api = importlib.import_module("roleplay_client.api.chat.post_chat_sessions")
        messages_api = importlib.import_module("roleplay_client.api.chat.post_chat_sessions_session_id_messages")
        evaluate_api = importlib.import_module("roleplay_client.api.evaluator.post_evaluations")
        read_api = importlib.import_module("roleplay_client.api.evaluator.get_evaluations_evaluation_id")
        models = importlib.import_module("roleplay_client.models")

        anonymous = client_module.Client(base_url=base)
        registered = auth_api.sync_detailed(client=anonymous, body=models.Register(
            email="learner@example.org", password="a sturdy passphrase 42", display_name="Lee"))
        assert registered.status_code == 201, registered.content
        learner = client_module.AuthenticatedClient(base_url=base, token=registered.parsed.access_token)

        listed = scenarios_api.sync(client=learner, language="en")
        assert isinstance(listed, models.ScenarioList) and listed.items and listed.next_cursor is None
        scenario = next(s for s in listed.items if s.id == "refund-angry-customer")

        session = sessions_api.sync(client=learner, body=models.NewSession(scenario_id=scenario.id))
        assert isinstance(session, models.SessionDetail) and session.status == "active"
        turn = messages_api.sync(session.id, client=learner, body=models.NewMessage(
            text="I'm sorry the machine broke. Can you tell me what happened? I can offer a refund."))
        assert isinstance(turn, models.Turn) and turn.reply.role == "character" and turn.reply.text
        assert turn.reply.seq == turn.message.seq + 1

        evaluation = evaluate_api.sync(client=learner, body=models.EvaluationRequest(session_id=session.id))
        assert isinstance(evaluation, models.EvaluationView), evaluation
        deadline = time.monotonic() + 30
        while evaluation.status == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
            evaluation = read_api.sync(evaluation.id, client=learner)
        assert evaluation.status == "done", evaluation
        assert 0 <= evaluation.report.overall_score <= 100 and evaluation.report.criteria
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == "roleplay_client" or n.startswith("roleplay_client.")]:
            del sys.modules[name]
