"""Request bodies (attrs, structured strictly by the kernel's converter) and field checks."""

from __future__ import annotations

import re

import attrs

from roleplay_core import LANGUAGE_TAG, FieldError, validation_problem
from roleplay_core.text import CONTROL

from .emails import hidden_characters, is_valid, normalise

MAX_NAME = 100
# Invisible characters that reorder or hide text: bidi controls (U+202E shows "exe.gnp" as "png.exe")
# and zero-width ones. ZWJ (U+200D) and ZWNJ (U+200C) stay allowed: emoji sequences and scripts
# such as Persian need them.
INVISIBLE = re.compile("[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u180e]")


@attrs.frozen(kw_only=True)
class Register:
    email: str
    password: str
    display_name: str
    preferred_language: str | None = None


@attrs.frozen(kw_only=True)
class Login:
    email: str
    password: str
    #: A password-kind auth provider by name: "local" (this plugin's accounts) or one a plugin adds.
    provider: str = "local"


@attrs.frozen(kw_only=True)
class RefreshBody:
    refresh_token: str


@attrs.frozen(kw_only=True)
class UpdateMe:
    """``PATCH /users/me``: only these two fields; ``roles`` is an unknown field (422)."""

    display_name: str | None = None
    preferred_language: str | None = None


@attrs.frozen(kw_only=True)
class ChangePassword:
    new_password: str
    current_password: str | None = None


@attrs.frozen(kw_only=True)
class AdminUpdate:
    roles: list[str] | None = None
    disabled: bool | None = None
    display_name: str | None = None
    preferred_language: str | None = None


def checked_email(value: str, field: str = "email") -> str:
    email = normalise(value)
    # NUL, escape sequences, bidi and zero-width characters: an address shown to admins and
    # written to logs must look like what it is.
    if hidden_characters(email):
        raise validation_problem([FieldError(field, "must not contain control or invisible characters")])
    if not is_valid(email):
        raise validation_problem([FieldError(field, "must be an email address like name@example.com")])
    return email


def checked_name(value: str, field: str = "display_name") -> str:
    """``value`` with runs of whitespace made one space; 422 naming ``field`` if empty, too long
    or holding control characters (checked before the whitespace is folded, which would turn
    some of them, like U+001F, into spaces)."""
    if CONTROL.search(value):
        raise validation_problem([FieldError(field, "must not contain control characters")])
    if INVISIBLE.search(value):
        raise validation_problem([FieldError(field, "must not contain bidi or zero-width control characters")])
    name = " ".join(value.split())
    if not name:
        raise validation_problem([FieldError(field, "must not be empty")])
    if len(name) > MAX_NAME:
        raise validation_problem([FieldError(field, f"must have at most {MAX_NAME} characters")])
    return name


def checked_language(value: str | None, field: str = "preferred_language") -> str | None:
    if value is None:
        return None
    if not LANGUAGE_TAG.match(value) or len(value) > 35:
        raise validation_problem([FieldError(field, "must be a language tag such as 'en' or 'pt-BR'")])
    return value


def reject_unknown(raw: dict, cls: type, *, reason: str = "is not a field of this resource") -> None:
    """422 naming each unknown key (``roles`` in ``PATCH /users/me``), not just ``$``."""
    known = {a.name for a in attrs.fields(cls)}
    unknown = sorted(k for k in raw if k not in known)
    if unknown:
        raise validation_problem([FieldError(str(k), reason) for k in unknown])
