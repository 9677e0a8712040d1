"""Our own evidence documents for tests (the real-world ones live in ../shared/fixtures)."""

from __future__ import annotations

import json


def junit_xml(*, tests=3, failures=0, errors=0, skipped=0) -> bytes:
    cases = []
    for i in range(tests):
        if i < failures:
            body = '<failure message="boom">assert 1 == 2</failure>'
        elif i < failures + errors:
            body = "<error>Traceback</error>"
        elif i < failures + errors + skipped:
            body = "<skipped/>"
        else:
            body = ""
        cases.append(f'<testcase classname="tests.test_pay" name="test_{i}" time="0.1">{body}</testcase>')
    return (f'<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="pay" tests="{tests}" time="1.5">'
            + "".join(cases) + "</testsuite></testsuites>").encode()


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<testsuite name="x" tests="1"><testcase name="&xxe;"/></testsuite>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<testsuite name="x" tests="1"><testcase name="&lol3;"/></testsuite>"""


def sarif(results: list[dict], rules: list[dict] | None = None) -> dict:
    return {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{"tool": {"driver": {"name": "semgrep", "rules": rules or []}}, "results": results}]}


def finding(rule: str, level: str = "error", suppressed: bool = False) -> dict:
    result = {"ruleId": rule, "level": level, "message": {"text": f"{rule} found"}}
    if suppressed:
        result["suppressions"] = [{"kind": "inSource", "status": "accepted"}]
    return result


def rule(rule_id: str, score: str) -> dict:
    return {"id": rule_id, "properties": {"security-severity": score}}


def cyclonedx(components: list[tuple[str, str | None]], vulnerabilities: list[dict] | None = None) -> dict:
    comps = []
    for name, lic in components:
        comp = {"type": "library", "name": name, "version": "1.0.0"}
        if lic:
            comp["licenses"] = [{"expression": lic}] if " " in lic else [{"license": {"id": lic}}]
        comps.append(comp)
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": comps}
    if vulnerabilities:
        doc["vulnerabilities"] = vulnerabilities
    return doc


def spdx(packages: list[tuple[str, str]]) -> dict:
    return {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "payments-api",
            "documentNamespace": "https://example.test/spdx/1",
            "packages": [{"SPDXID": f"SPDXRef-{i}", "name": n, "licenseConcluded": lic, "downloadLocation": "NOASSERTION"}
                         for i, (n, lic) in enumerate(packages)]}


def provenance(digest: str, *, builder="https://github.com/actions/runner/github-hosted") -> dict:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "ghcr.io/acme/payments-api", "digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {"buildType": "https://actions.github.io/buildtypes/workflow/v1",
                                "externalParameters": {"workflow": {"repository": "https://github.com/acme/payments-api",
                                                                    "path": ".github/workflows/build.yml"}}},
            "runDetails": {"builder": {"id": builder}, "metadata": {"invocationId": "run-42"}},
        },
    }


def as_bytes(doc: dict) -> bytes:
    return json.dumps(doc).encode()
