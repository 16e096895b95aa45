"""Helpers for tests of what the database itself holds."""
from __future__ import annotations

from django.db import connection, transaction


def checked_now(write) -> None:
    """Run `write` and the deferred foreign-key checks it queued, as its commit would."""
    with transaction.atomic(), connection.cursor() as cursor:
        write()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
