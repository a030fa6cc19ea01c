"""User ids: one spelling per account.

A user id arrives as a token's ``sub`` (and as the target of a grant) and is used as given, in every
query and ledger row. Tidying it instead (stripping spaces, normalising) makes ``" alice"`` and
``"alice\\u3000"`` other names for ``alice``: whoever can get a token for such a spelling becomes
alice. So anything not already in canonical form is refused, never repaired.
"""

from __future__ import annotations

import unicodedata

MAX_USER_ID_LENGTH = 255


def is_canonical_user_id(value: object) -> bool:
    """1-255 printable characters (no control, format or non-ASCII space characters), no leading or
    trailing whitespace of any kind, and Unicode NFC (so that ``é`` has one encoding, not two)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_USER_ID_LENGTH
        and value == value.strip()
        and value.isprintable()
        and unicodedata.is_normalized("NFC", value)
    )
