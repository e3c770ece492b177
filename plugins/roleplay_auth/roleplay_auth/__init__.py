"""Roleplay plugin ``auth``: accounts, local passwords, Google and any OIDC provider, tokens, admin.

Entry point: :mod:`roleplay_auth.plugin`. Routes and settings: ``docs/api/auth.md`` and
``docs/oauth.md``.
"""
