"""The ``auth`` settings are an attrs class the kernel structures strictly (issue 14, item 3).

A wrong type reads ``auth.password.min_length: expected an integer`` whichever layer set it;
the rules per environment (https outside development, no bootstrap admin there) stay in
``validate_settings``.
"""

from __future__ import annotations

import os

import pytest
import roleplay_auth.plugin as auth_plugin

from roleplay_core.plugins import bootstrap
from roleplay_core.testing import make_kernel


def problems(env="development", **overrides):
    return bootstrap(env=env, settings_files=[], load_entry_points=False, plugins=[auth_plugin],
                     overrides={"storage.backend": "memory", **overrides}).problems


@pytest.fixture
def clean_env(monkeypatch):
    for key in [k for k in os.environ if k.startswith("ROLEPLAY_")]:
        monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize(("key", "value", "message"), [
    ("auth.password.min_length", "12", "auth.password.min_length: expected an integer"),
    ("auth.refresh_token_ttl", True, "auth.refresh_token_ttl: expected an integer"),
    ("auth.registration.enabled", "no", "auth.registration.enabled: expected true or false"),
    ("auth.throttle.pair.max_failures", 0, "auth.throttle.pair.max_failures: must be > 0: 0"),
    ("auth.oidc.corp.client_id", 7, "auth.oidc.corp.client_id: expected a string"),
    ("auth.oidc.corp.scopes", [1], "auth.oidc.corp.scopes: must be a list of strings or one space-separated string"),
    ("auth.password.argon2.memory_cost", 4096,
     "auth.password.argon2.memory_cost: must be >= 19456 (OWASP minimum), not 4096"),
])
def test_an_override_names_the_key(key, value, message):
    assert any(p.startswith(message) for p in problems(**{key: value})), problems(**{key: value})


def test_an_environment_variable_names_the_key(clean_env):
    clean_env.setenv("ROLEPLAY_AUTH__REGISTRATION__ENABLED", '"off"')
    assert problems() == ["auth.registration.enabled: expected true or false"]


def test_the_defaults_fit_and_are_read_typed(clean_env):
    assert problems() == [] and problems(env="production", **{"security.jwt_secret": "x" * 40}) != []
    clean_env.setenv("ROLEPLAY_AUTH__REGISTRATION__ENABLED", "false")
    clean_env.setenv("ROLEPLAY_AUTH__OIDC__GOOGLE__SCOPES", "openid email")  # the string form stays
    typed = make_kernel(load_entry_points=False, plugins=[auth_plugin]).typed_settings("auth")
    assert typed.registration.enabled is False and typed.oidc["google"].scopes == "openid email"
    assert (typed.reauth_max_age, typed.api_keys.cache_seconds, typed.throttle.pair) == (300, 5.0, None)
    assert "password=" not in repr(typed.bootstrap_admin)
