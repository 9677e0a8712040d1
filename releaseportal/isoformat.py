"""`IsoFormatUTC`: a timestamp column written in SQL exactly as Python's `datetime.isoformat()`
writes the aware UTC value Django reads back ("2026-12-04T10:22:03.195980+00:00", the fraction
left out when it is zero). Large exports select the text instead of the value: reading 11,000
timestamps into Python and formatting them again cost more than the query itself.

PostgreSQL and SQLite, the two databases the portal runs on; any other refuses (NotSupportedError)
rather than writing a different format."""

from __future__ import annotations

from django.db import NotSupportedError
from django.db.models import Func, TextField


class IsoFormatUTC(Func):
    arity = 1
    output_field = TextField()

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError(f"IsoFormatUTC has no SQL for {connection.vendor}")

    def as_postgresql(self, compiler, connection, **extra_context):
        # to_char's US is always six digits; isoformat() drops an all-zero fraction.
        template = ("(replace(to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
                    " '.000000', '') || '+00:00')")
        return Func.as_sql(self, compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores an aware value as its UTC str(): "YYYY-MM-DD HH:MM:SS[.ffffff]".
        template = "(replace(%(expressions)s, ' ', 'T') || '+00:00')"
        return Func.as_sql(self, compiler, connection, template=template, **extra_context)
