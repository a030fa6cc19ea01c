"""Standard Webhooks signing (https://www.standardwebhooks.com/): secrets, signatures, verification."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence

USER_AGENT = "bgremover-webhooks/1"
SECRET_PREFIX = "whsec_"
ROTATION_GRACE_S = 24 * 3600
"""After a rotation the previous secret keeps signing, beside the new one, for this long."""


def generate_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form ``whsec_<base64 of 32 random bytes>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except binascii.Error as exc:
            raise ValueError("webhook secret after 'whsec_' is not valid base64") from exc
    return secret.encode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``{msg_id}.{timestamp}.{body}``."""
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode("ascii")


def fingerprint(secret: str) -> str:
    """A short name for a secret that reveals nothing of it: the first 16 hex digits of its SHA-256.

    Shown by the API instead of the secret, so a user can tell which secret their receiver holds.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def headers_for(
    secret: str, msg_id: str, timestamp: int, body: bytes, *, also_sign_with: Sequence[str] = ()
) -> dict[str, str]:
    """Every header a delivery carries, signature included.

    ``also_sign_with`` adds a signature per extra secret (space-separated, as the standard allows):
    during a rotation a receiver still holding the previous secret keeps verifying.
    """
    signatures = [sign(key, msg_id, timestamp, body) for key in (secret, *also_sign_with)]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """True if ``headers`` carry a valid, fresh signature of ``body``.

    Header names are matched case-insensitively; the signature header may list several space-separated
    signatures (secret rotation) and one match suffices. A timestamp more than ``tolerance_s`` away from
    ``now`` in either direction is refused, which bounds replays. Malformed headers give False; only a
    malformed ``whsec_`` secret raises :class:`ValueError`.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    raw_ts = lowered.get("webhook-timestamp")
    raw_sigs = lowered.get("webhook-signature")
    if not msg_id or not raw_ts or not raw_sigs:
        return False
    try:
        timestamp = int(raw_ts)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, msg_id, timestamp, body).encode("ascii")
    matched = False
    for candidate in raw_sigs.split():
        # Keep comparing after a match so the time taken does not reveal which signature matched.
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    return matched
