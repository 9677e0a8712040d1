"""SLSA provenance (v1, and v0.2) in in-toto statements, bare or in a DSSE envelope.

The statement's subject must name the artifact's digest: provenance for another build is refused."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from releaseportal.errors import InvalidInput

from .documents import check_schema, load_json, wrong_format

STATEMENT_TYPES = {"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"}
PREDICATE_TYPES = {"https://slsa.dev/provenance/v1", "https://slsa.dev/provenance/v0.2"}


def _unwrap(doc: dict) -> dict:
    if "payload" in doc and "payloadType" in doc:
        try:
            raw = base64.b64decode(doc["payload"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise wrong_format("The DSSE envelope's payload is not base64.") from None
        return load_json(raw, what="in-toto statement")
    return doc


def _source(predicate: dict) -> str:
    build = predicate.get("buildDefinition") or {}
    external = build.get("externalParameters") or {}
    workflow = external.get("workflow") or {}
    if isinstance(workflow, dict) and workflow.get("repository"):
        return str(workflow["repository"])
    if isinstance(external.get("source"), (str, dict)):
        source = external["source"]
        return str(source.get("uri", "")) if isinstance(source, dict) else source
    for dep in build.get("resolvedDependencies") or []:
        if isinstance(dep, dict) and dep.get("uri"):
            return str(dep["uri"])
    config = (predicate.get("invocation") or {}).get("configSource") or {}
    if config.get("uri"):
        return str(config["uri"])
    for material in predicate.get("materials") or []:
        if isinstance(material, dict) and material.get("uri"):
            return str(material["uri"])
    return ""


def parse(data: bytes | dict, *, digest: str) -> dict[str, Any]:
    doc = _unwrap(load_json(data, what="provenance"))
    if doc.get("_type") not in STATEMENT_TYPES:
        raise wrong_format(f"Not an in-toto statement: _type is {doc.get('_type')!r}.")
    predicate_type = doc.get("predicateType")
    if predicate_type not in PREDICATE_TYPES:
        raise wrong_format(f"Not SLSA provenance: predicateType is {predicate_type!r}.")
    check_schema(doc, schema_file="in-toto-slsa.min.json", what="provenance")
    predicate = doc.get("predicate") or {}
    if not isinstance(predicate, dict):
        raise wrong_format("The provenance predicate must be an object.")
    subjects = [s for s in doc.get("subject") or [] if isinstance(s, dict)]
    wanted = digest.split(":", 1)[1]
    names = [str(s.get("name", "")) for s in subjects if ((s.get("digest") or {}).get("sha256") == wanted)]
    if not names:
        raise InvalidInput("The provenance subject does not name this artifact's digest.",
                           code="provenance_subject_mismatch", fields={"subject": [f"no subject with sha256 {wanted}"]})
    if predicate_type.endswith("/v1"):
        builder = ((predicate.get("runDetails") or {}).get("builder") or {}).get("id", "")
        build_type = (predicate.get("buildDefinition") or {}).get("buildType", "")
        invocation = ((predicate.get("runDetails") or {}).get("metadata") or {}).get("invocationId", "")
    else:
        builder = (predicate.get("builder") or {}).get("id", "")
        build_type = predicate.get("buildType", "")
        invocation = ((predicate.get("metadata") or {}).get("buildInvocationId", ""))
    if not builder:
        raise wrong_format("The provenance names no builder id.")
    return {"predicate_type": predicate_type, "builder_id": str(builder), "build_type": str(build_type),
            "source": _source(predicate), "invocation_id": str(invocation), "subject": names[0],
            "subject_digest": digest}
