"""Every module of every distribution has a test home: a test file that names it and exercises it.

``HOMES`` is the map. A new module fails :func:`test_every_module_has_a_home` until it is given
one; a home must exist and name its module (imports it, or says ``roleplay_x.y`` or
``roleplay_x/y.py``), so the map cannot point at a file that has nothing to do with it.
Many homes test their module over HTTP or a WebSocket (the house rule); the map says where.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

HOMES = {
    "roleplay_core.openapi": "tests/test_openapi.py",
    "roleplay_core.apidocs": "tests/test_openapi.py",
    "roleplay_auth.schemas": "tests/test_openapi.py",
    "roleplay_chat.schemas": "tests/test_openapi.py",
    "roleplay_evaluator.schemas": "tests/test_openapi.py",
    "roleplay_scripter.schemas": "tests/test_openapi.py",
    "roleplay_core.dispatch": "tests/test_dispatch.py",
    "roleplay_core.metrics": "tests/test_metrics.py",
    "roleplay_core.prompting": "plugins/roleplay_openai/tests/test_text.py",
    "roleplay_openai.client": "plugins/roleplay_openai/tests/test_text.py",
    "roleplay_openai.live": "plugins/roleplay_openai/tests/test_voice.py",
    "roleplay_openai.plugin": "plugins/roleplay_openai/tests/test_judging.py",
    "roleplay_openai.prompts": "plugins/roleplay_openai/tests/test_text.py",
    "roleplay_openai.provider": "plugins/roleplay_openai/tests/test_text.py",
    "roleplay_openai.testserver": "plugins/roleplay_openai/tests/test_voice.py",
    "roleplay_web.capabilities": "plugins/roleplay_web/tests/test_voice_browser.py",
    "roleplay_core.__main__": "tests/test_cli.py",
    "roleplay_core.app": "tests/test_http.py",
    "roleplay_core.builtin": "tests/test_http.py",
    "roleplay_core.catalog": "tests/test_catalog.py",
    "roleplay_core.cli": "tests/test_cli.py",
    "roleplay_core.errors": "tests/test_http.py",
    "roleplay_core.hookspecs": "tests/test_hooks_documented.py",
    "roleplay_core.identity": "plugins/roleplay_auth/tests/test_password_providers.py",
    "roleplay_core.judging": "plugins/roleplay_gemini/tests/test_judging.py",
    "roleplay_core.kernel": "tests/test_plugins.py",
    "roleplay_core.live": "plugins/roleplay_gemini/tests/test_live.py",
    "roleplay_core.logs": "tests/test_cli.py",
    "roleplay_core.middleware": "tests/test_hot_path.py",
    "roleplay_core.models": "plugins/roleplay_gemini/tests/test_text.py",
    "roleplay_core.plugins": "tests/test_plugins.py",
    "roleplay_core.principal": "tests/test_tokens.py",
    "roleplay_core.script": "tests/test_catalog.py",
    "roleplay_core.script_limits": "plugins/roleplay_scripter/tests/test_review_limits.py",
    "roleplay_core.security": "tests/test_websocket_auth.py",
    "roleplay_core.serialization": "tests/test_review_kernel.py",
    "roleplay_core.settings": "tests/test_settings.py",
    "roleplay_core.storage.base": "tests/test_storage_contract.py",
    "roleplay_core.storage.changes": "tests/test_file_changes.py",
    "roleplay_core.storage.copy": "tests/test_storage_copy.py",
    "roleplay_core.storage.eventlog": "tests/test_storage_contract.py",
    "roleplay_core.storage.file": "tests/test_file_storage.py",
    "roleplay_core.storage.fsck": "plugins/roleplay_chat/tests/test_fsck.py",
    "roleplay_core.storage.memory": "tests/test_storage_contract.py",
    "roleplay_core.storage.threads": "tests/test_storage_threads.py",
    "roleplay_core.testing": "tests/test_storage_contract.py",
    "roleplay_core.text": "tests/test_text.py",
    "roleplay_core.tokens": "tests/test_tokens.py",
    "roleplay_core.transcript": "plugins/roleplay_chat/tests/test_transcript.py",
    "roleplay_auth.apikey_routes": "plugins/roleplay_auth/tests/test_api_keys.py",
    "roleplay_auth.apikeys": "plugins/roleplay_auth/tests/test_api_keys.py",
    "roleplay_auth.auth_routes": "plugins/roleplay_auth/tests/test_accounts.py",
    "roleplay_auth.bodies": "plugins/roleplay_auth/tests/test_accounts.py",
    "roleplay_auth.cli": "plugins/roleplay_auth/tests/test_cli.py",
    "roleplay_auth.config": "plugins/roleplay_auth/tests/test_settings.py",
    "roleplay_auth.emails": "plugins/roleplay_auth/tests/test_review_low.py",
    "roleplay_auth.local": "plugins/roleplay_auth/tests/test_password_providers.py",
    "roleplay_auth.oidc": "plugins/roleplay_auth/tests/test_oidc.py",
    "roleplay_auth.passwords": "plugins/roleplay_auth/tests/test_passwords_unit.py",
    "roleplay_auth.plugin": "plugins/roleplay_auth/tests/test_settings.py",
    "roleplay_auth.prune": "plugins/roleplay_auth/tests/test_cli.py",
    "roleplay_auth.reauth": "plugins/roleplay_auth/tests/test_review_high.py",
    "roleplay_auth.refresh": "plugins/roleplay_auth/tests/test_attacks.py",
    "roleplay_auth.service": "plugins/roleplay_auth/tests/test_accounts.py",
    "roleplay_auth.throttle": "plugins/roleplay_auth/tests/test_review_throttle.py",
    "roleplay_auth.users": "plugins/roleplay_auth/tests/test_users_unit.py",
    "roleplay_auth.users_routes": "plugins/roleplay_auth/tests/test_users.py",
    "roleplay_chat.audio": "plugins/roleplay_chat/tests/test_voice_audio.py",
    "roleplay_chat.config": "plugins/roleplay_chat/tests/test_limits.py",
    "roleplay_chat.engine": "plugins/roleplay_chat/tests/test_engine.py",
    "roleplay_chat.errors": "plugins/roleplay_chat/tests/test_errors.py",
    "roleplay_chat.export": "plugins/roleplay_chat/tests/test_sessions_api.py",
    "roleplay_chat.frames": "plugins/roleplay_chat/tests/test_voice_audio.py",
    "roleplay_chat.fsck": "plugins/roleplay_chat/tests/test_fsck.py",
    "roleplay_chat.limits": "plugins/roleplay_chat/tests/test_limits.py",
    "roleplay_chat.matching": "plugins/roleplay_chat/tests/test_matching.py",
    "roleplay_chat.plugin": "plugins/roleplay_chat/tests/test_transcript.py",
    "roleplay_chat.quota": "plugins/roleplay_chat/tests/test_voice_endpoint.py",
    "roleplay_chat.relay": "plugins/roleplay_chat/tests/test_voice_endpoint.py",
    "roleplay_chat.resume": "plugins/roleplay_chat/tests/test_voice_endpoint.py",
    "roleplay_chat.routes": "plugins/roleplay_chat/tests/test_sessions_api.py",
    "roleplay_chat.sessions": "plugins/roleplay_chat/tests/test_sessions_api.py",
    "roleplay_chat.text": "plugins/roleplay_chat/tests/test_matching.py",
    "roleplay_chat.turns": "plugins/roleplay_chat/tests/test_provider_failures.py",
    "roleplay_chat.voice": "plugins/roleplay_chat/tests/test_voice_endpoint.py",
    "roleplay_chat.ws": "plugins/roleplay_chat/tests/test_websocket.py",
    "roleplay_evaluator.evaluate": "plugins/roleplay_evaluator/tests/test_api.py",
    "roleplay_evaluator.export": "plugins/roleplay_evaluator/tests/test_export.py",
    "roleplay_evaluator.fsck": "plugins/roleplay_chat/tests/test_fsck.py",
    "roleplay_evaluator.judge": "plugins/roleplay_evaluator/tests/test_judge.py",
    "roleplay_evaluator.messages": "plugins/roleplay_evaluator/tests/test_messages.py",
    "roleplay_evaluator.plugin": "plugins/roleplay_evaluator/tests/test_api.py",
    "roleplay_evaluator.progress": "plugins/roleplay_evaluator/tests/test_background.py",
    "roleplay_evaluator.questions": "plugins/roleplay_evaluator/tests/test_questions.py",
    "roleplay_evaluator.report": "plugins/roleplay_evaluator/tests/test_judge.py",
    "roleplay_evaluator.routes": "plugins/roleplay_evaluator/tests/test_api.py",
    "roleplay_evaluator.rules": "plugins/roleplay_evaluator/tests/test_rules.py",
    "roleplay_evaluator.runner": "plugins/roleplay_evaluator/tests/test_background.py",
    "roleplay_evaluator.store": "plugins/roleplay_evaluator/tests/test_background.py",
    "roleplay_gemini.client": "plugins/roleplay_gemini/tests/test_text.py",
    "roleplay_gemini.live": "plugins/roleplay_gemini/tests/test_live.py",
    "roleplay_gemini.plugin": "plugins/roleplay_gemini/tests/test_text.py",
    "roleplay_gemini.prompts": "plugins/roleplay_gemini/tests/test_judging.py",
    "roleplay_gemini.provider": "plugins/roleplay_gemini/tests/test_text.py",
    "roleplay_gemini.testserver": "plugins/roleplay_gemini/tests/test_voice.py",
    "roleplay_gemini.wire": "plugins/roleplay_gemini/tests/test_wire.py",
    "roleplay_s3.options": "plugins/roleplay_s3/tests/test_behaviour.py",
    "roleplay_s3.plugin": "plugins/roleplay_s3/tests/test_cli.py",
    "roleplay_s3.storage": "plugins/roleplay_s3/tests/test_contract.py",
    "roleplay_scripter.cards": "plugins/roleplay_scripter/tests/test_cards.py",
    "roleplay_scripter.diff": "plugins/roleplay_scripter/tests/test_diff.py",
    "roleplay_scripter.formats": "plugins/roleplay_scripter/tests/test_formats.py",
    "roleplay_scripter.importing": "plugins/roleplay_scripter/tests/test_import_export.py",
    "roleplay_scripter.lint": "plugins/roleplay_scripter/tests/test_validate.py",
    "roleplay_scripter.plugin": "plugins/roleplay_scripter/tests/test_settings.py",
    "roleplay_scripter.preview": "plugins/roleplay_scripter/tests/test_preview.py",
    "roleplay_scripter.records": "plugins/roleplay_scripter/tests/test_views.py",
    "roleplay_scripter.routes": "plugins/roleplay_scripter/tests/test_api.py",
    "roleplay_scripter.store": "plugins/roleplay_scripter/tests/test_api.py",
    "roleplay_scripter.views": "plugins/roleplay_scripter/tests/test_views.py",
    "roleplay_web.config": "plugins/roleplay_web/tests/test_serving.py",
    "roleplay_web.headers": "plugins/roleplay_web/tests/test_serving.py",
    "roleplay_web.page": "plugins/roleplay_web/tests/test_serving.py",
    "roleplay_web.plugin": "plugins/roleplay_web/tests/test_serving.py",
    "roleplay_web.routes": "plugins/roleplay_web/tests/test_serving.py",
}


def packages() -> list[Path]:
    """The kernel package and every plugin distribution's package, in the checkout."""
    return [ROOT / "roleplay_core", *sorted(p / p.name for p in (ROOT / "plugins").iterdir() if (p / p.name).is_dir())]


def modules() -> list[str]:
    found = []
    for package in packages():
        for path in sorted(package.rglob("*.py")):
            if path.name != "__init__.py" and "static" not in path.parts:
                found.append(".".join(path.relative_to(package.parent).with_suffix("").parts))
    return found


def names(module: str, text: str) -> bool:
    """Whether a test file's text names ``module``: its dotted name, its path, or an import of it."""
    parent, _, leaf = module.rpartition(".")
    return bool(re.search(rf"\b{re.escape(module)}\b", text)
                or module.replace(".", "/") + ".py" in text
                or re.search(rf"^from {re.escape(parent)} import [^\n]*\b{leaf}\b", text, re.M))


def test_every_module_has_a_home_and_no_home_is_stale():
    assert sorted(set(modules()) - set(HOMES)) == [], "give these modules a test home in HOMES"
    assert sorted(set(HOMES) - set(modules())) == [], "these modules are gone: remove them from HOMES"


@pytest.mark.parametrize("module", sorted(HOMES))
def test_a_home_exists_and_names_its_module(module):
    home = ROOT / HOMES[module]
    assert home.is_file(), f"{module}'s home {HOMES[module]} does not exist"
    assert names(module, home.read_text()), f"{HOMES[module]} does not name {module} (import it or say so in its docstring)"
