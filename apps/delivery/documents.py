"""Reading JSON evidence documents: one careful loader shared by the JSON formats, and the
check of each document against its format's JSON Schema (apps/delivery/schemas/) before a parser
reads it — a wrong shape is refused with 400 naming its JSON path (`runs[0].tool.driver`),
instead of a 500 or a garbage summary (a licence named "['MIT']")."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from releaseportal.errors import InvalidInput
from releaseportal.input import MAX_JSON_DEPTH, json_depth_exceeds

SCHEMAS = Path(__file__).resolve().parent / "schemas"


def load_json(data: bytes | dict, *, what: str) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    if json_depth_exceeds(data):
        raise InvalidInput(f"The {what} document nests deeper than {MAX_JSON_DEPTH} levels.",
                           code="malformed_document", fields={"document": ["nested too deeply"]})
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


@cache
def _validator(schema_file: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / schema_file).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def json_path(error: SchemaError) -> str:
    """`runs[0].tool.driver` for the instance the error is about ("document" for the root)."""
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "document"


def _deepest(error: SchemaError) -> SchemaError:
    """For oneOf/anyOf failures, the most specific sub-error names the path people can fix."""
    while error.context:
        error = max(error.context, key=lambda sub: (len(sub.absolute_path), -len(sub.schema_path)))
    return error


def check_schema(document: dict, *, schema_file: str, what: str) -> None:
    """Refuses a document that does not have its format's shape: 400 `invalid_document` naming
    the JSON path of the first problem (by document order), the others listed too (up to 10)."""
    errors = sorted(_validator(schema_file).iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    fields: dict[str, list[str]] = {}
    for error in errors[:10]:
        specific = _deepest(error)
        fields.setdefault(json_path(specific), []).append(specific.message[:200])
    first = next(iter(fields))
    raise InvalidInput(f"The {what} document does not match its schema at {first}: {fields[first][0]}",
                       code="invalid_document", fields=fields)
