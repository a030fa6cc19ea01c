"""``python -m bgremover_client``: the bgremover command line."""

from __future__ import annotations

import sys

from bgremover_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
