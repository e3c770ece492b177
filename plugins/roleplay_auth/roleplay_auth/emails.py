"""Email normalisation and a deliberately simple syntax check."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# One @, something before it, a dotted domain after it, no whitespace. Real validation is
# a mail round-trip; this only stops obvious typos and junk.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


def normalise(email: str) -> str:
    """Trim, NFKC-normalise and lower-case: ``" Ann@Example.COM "`` -> ``"ann@example.com"``."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def hidden_characters(value: str) -> bool:
    """Whether ``value`` holds a control or invisible character (NUL, an escape sequence, a bidi
    control, a zero-width space...): Unicode categories Cc, Cf, Cs, Co, Zl and Zp."""
    return any(unicodedata.category(c) in _HIDDEN for c in value)


_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))


def is_valid(email: str) -> bool:
    return len(email) <= 254 and bool(_EMAIL.match(email)) and not hidden_characters(email)


def digest(value: str) -> str:
    """A storage-key-safe stand-in for an email or subject (keys must not contain '/' etc.)."""
    return hashlib.sha256(value.encode()).hexdigest()
