"""The original Lumiku "Background Remover Pro" clients, unmodified (docs/compat.md).

Their backend and frontend called different paths with different field names; every call either makes
is served here, translated onto the same services as our own routes (``Submissions``, pricing, the
ledger, quotas, the queue). Nothing here decides a price, a quota or a status: it renames and wraps.
"""
