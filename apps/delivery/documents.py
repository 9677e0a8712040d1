"""Reading JSON evidence documents: one careful loader shared by the JSON formats."""

from __future__ import annotations

import json
from typing import Any

from releaseportal.errors import InvalidInput


def load_json(data: bytes | dict, *, what: str) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"The {what} document is not valid JSON: {exc}.", code="malformed_document",
                           fields={"document": ["not valid JSON"]}) from None
    except RecursionError:
        raise InvalidInput(f"The {what} document nests too deeply.", code="malformed_document",
                           fields={"document": ["nested too deeply"]}) from None
    if not isinstance(document, dict):
        raise InvalidInput(f"The {what} document must be a JSON object.", code="wrong_format",
                           fields={"document": ["expected a JSON object"]})
    return document


def wrong_format(message: str) -> InvalidInput:
    return InvalidInput(message, code="wrong_format", fields={"document": [message]})
