"""Who made an admin action (a credit or subscription grant), as the ledger records it beside the grant.

Granting is printing money, so every grant names its maker: the admin's user id and how they were
authenticated. Through the API that is always a short-lived bearer token (API keys are refused on
the admin routes); from the operator's machine it is ``python -m db.admin`` (``make grant``).
"""

from __future__ import annotations

import getpass
import os
import pwd
from dataclasses import dataclass
from enum import StrEnum


class ActorMethod(StrEnum):
    TOKEN = "token"
    """An admin's bearer token, through the API."""
    CLI = "cli"
    """An operator on the machine (``python -m db.admin grant``); the user id is the one they named with
    ``--by``, or their login name."""


@dataclass(frozen=True)
class Actor:
    user_id: str
    method: ActorMethod

    @classmethod
    def cli(cls, by: str | None = None) -> Actor:
        """The operator named by ``by``, else the machine account running the command (read from the
        system, not from ``$USER``, which ``make grant USER=alice`` sets to the grant's recipient)."""
        return cls(user_id=(by or os_account()).strip()[:255], method=ActorMethod.CLI)


def os_account() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        return getpass.getuser()
