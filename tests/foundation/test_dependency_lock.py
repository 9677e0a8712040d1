"""The installs are reproducible: every pin in pyproject.toml is in requirements.lock, at the
same version and with hashes, so `make` (which installs from the lock with --require-hashes)
installs exactly what pyproject.toml declares."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, set[str]]:
    locked: dict[str, set[str]] = {}
    text = (ROOT / "requirements.lock").read_text()
    for block in re.split(r"\n(?=\S)", text):
        head = re.match(r"([A-Za-z0-9_.\-]+)==([^\s;\\]+)", block)
        if head is None:
            continue
        assert "--hash=sha256:" in block, f"{head.group(0)} is locked without a hash"
        locked.setdefault(_normal(head.group(1)), set()).add(head.group(2))
    return locked


def test_every_pin_in_pyproject_is_locked_with_hashes():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    locked = _locked()
    missing = []
    for pin in pins:
        name, _, version = re.sub(r"\[.*?\]", "", pin).partition("==")
        assert version, f"{pin} is not pinned with =="
        if version not in locked.get(_normal(name), set()):
            missing.append(pin)
    assert not missing, f"not in requirements.lock at that version (run `make lock`): {missing}"


def test_the_installer_itself_is_hash_pinned():
    text = (ROOT / "requirements-uv.lock").read_text()
    assert re.search(r"^uv==\S+ \\\n\s+--hash=sha256:[0-9a-f]{64}", text, re.M)


def test_supported_pythons_are_311_and_newer():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
