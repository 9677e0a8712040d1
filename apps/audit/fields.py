"""The audit event's details column stores the exact canonical JSON text that was hashed.

On PostgreSQL the column is `json`, not `jsonb`: `json` keeps its input text verbatim, so
`details::text` is byte for byte the `details` part of the hashed payload and the whole chain
can be re-hashed inside the database (apps.audit.verification). `jsonb` would re-order keys and
add spaces. On SQLite JSON is text anyway; the same canonical text is written there too.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from .chain import canonical_details


class CanonicalJSONField(models.JSONField):
    description = "JSON stored as canonical text (sorted keys, no spaces, UTF-8)"

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None or hasattr(value, "as_sql"):
            return super().get_db_prep_value(value, connection, prepared)
        text = canonical_details(value)
        if connection.vendor == "postgresql":
            from psycopg.types.json import Json

            return Json(value, dumps=lambda _obj: text)
        return text

    def from_db_value(self, value: Any, expression, connection):
        # psycopg parses `json` columns itself (Django only registers a text loader for jsonb).
        if value is None or not isinstance(value, (str, bytes)):
            return value
        return json.loads(value)
