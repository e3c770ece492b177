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


def is_valid(email: str) -> bool:
    return len(email) <= 254 and bool(_EMAIL.match(email))


def digest(value: str) -> str:
    """A storage-key-safe stand-in for an email or subject (keys must not contain '/' etc.)."""
    return hashlib.sha256(value.encode()).hexdigest()
