"""Per-service version policies: a pattern such as `{semver}+{git_sha:7}.{pipeline_id}`.

Placeholders: {semver}, {git_sha} or {git_sha:N} (the artifact's git SHA, first N characters),
{pipeline_id}, {build_id}, {date} (YYYYMMDD), {n} (digits). Everything else is literal."""

from __future__ import annotations

import re

from releaseportal.errors import InvalidInput, Unprocessable

SEMVER = r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?"
_PLACEHOLDER = re.compile(r"\{(semver|git_sha|pipeline_id|build_id|date|n)(?::(\d{1,2}))?\}")


def compile_pattern(pattern: str) -> tuple[re.Pattern, list[tuple[str, int | None]]]:
    parts: list[str] = []
    bound: list[tuple[str, int | None]] = []
    position = 0
    for index, match in enumerate(_PLACEHOLDER.finditer(pattern)):
        parts.append(re.escape(pattern[position:match.start()]))
        name, length = match.group(1), match.group(2)
        group = f"g{index}"
        if name == "semver":
            parts.append(f"(?P<{group}>{SEMVER})")
        elif name == "date":
            parts.append(f"(?P<{group}>\\d{{8}})")
        elif name == "n":
            parts.append(f"(?P<{group}>\\d+)")
        else:
            parts.append(f"(?P<{group}>[0-9A-Za-z._-]+)")
            bound.append((name, int(length) if length else None))
            position = match.end()
            continue
        bound.append(("", None))
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    if "{" in re.sub(_PLACEHOLDER, "", pattern):
        raise InvalidInput(f"Unknown placeholder in version pattern {pattern!r}.", code="invalid_version_pattern")
    return re.compile("^" + "".join(parts) + "$"), bound


def check_version(pattern: str, *, version: str, git_sha: str, pipeline_id: str, build_id: str) -> None:
    """Refuse (422 version_policy_violation) a version that does not follow the service's pattern."""
    regex, bound = compile_pattern(pattern)
    match = regex.match(version)
    problem = None
    if match is None:
        problem = f"the version {version!r} does not match the pattern {pattern!r}"
    else:
        values = {"git_sha": git_sha, "pipeline_id": pipeline_id, "build_id": build_id}
        for index, (name, length) in enumerate(bound):
            if not name:
                continue
            expected = values[name][:length] if length else values[name]
            if not expected or match.group(f"g{index}") != expected:
                problem = f"{{{name}}} in the version must be {expected or '(missing ' + name + ')'!s}"
                break
    if problem:
        raise Unprocessable(f"Version refused by the service's version policy: {problem}.",
                            code="version_policy_violation", fields={"version": [problem]})
