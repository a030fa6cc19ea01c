"""Outgoing webhooks: target validation, Standard Webhooks signing, one delivery attempt, retry schedule.

When a job or batch finishes, a worker POSTs :func:`event_payload` to the user's ``webhook_url`` with
:func:`deliver`, and on a retryable failure tries again after :func:`backoff_seconds`, up to
:data:`MAX_ATTEMPTS` attempts. The pieces:

* :func:`validate_webhook_url` (syntax, no I/O) and :func:`check_webhook_target` (plus DNS) refuse
  anything but a public ``http``/``https`` target, so the service cannot be turned into a proxy
  into its own network (SSRF). ``allow_private`` lifts the address check for local testing.
* :func:`sign`, :func:`headers_for` and :func:`verify` implement https://www.standardwebhooks.com/
  (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``). Each user
  has their own secret (``db.webhook_secrets``); :func:`fingerprint` names one without revealing it.
* :func:`deliver` makes one attempt, bounded in time as a whole, and reports a :class:`DeliveryResult`;
  it never raises for network trouble.
"""

from core.webhooks._addresses import DEFAULT_PORTS, MAX_URL_LENGTH, validate_webhook_url
from core.webhooks._delivery import MAX_ATTEMPTS, DeliveryResult, backoff_seconds, deliver, event_payload
from core.webhooks._dns import DNS_TIMEOUT_S, DnsLookups, check_webhook_target
from core.webhooks._signing import ROTATION_GRACE_S, fingerprint, generate_secret, headers_for, sign, verify

__all__ = [
    "DEFAULT_PORTS",
    "DNS_TIMEOUT_S",
    "MAX_ATTEMPTS",
    "MAX_URL_LENGTH",
    "ROTATION_GRACE_S",
    "DeliveryResult",
    "DnsLookups",
    "backoff_seconds",
    "check_webhook_target",
    "deliver",
    "event_payload",
    "fingerprint",
    "generate_secret",
    "headers_for",
    "sign",
    "validate_webhook_url",
    "verify",
]
