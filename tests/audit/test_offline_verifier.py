"""`python -m releaseportal.verify`: a changed byte, a removed file, an edited event or a forged
signature fail, naming what failed; an untouched pack passes."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from releaseportal import verify

from .conftest import CONTROL_JULY
from .packs import generate, pack_path, rewrite

pytestmark = pytest.mark.django_db


@pytest.fixture
def pack_file(auditor, quarter_data, django_capture_on_commit_callbacks):
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    return pack_path(pack)


def run_verifier(path, *extra, module=True, cwd=None):
    cmd = [sys.executable, "-m", "releaseportal.verify", str(path), *extra] if module else \
        [sys.executable, "verify.py", str(path), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_an_untouched_pack_verifies_from_the_command_line(pack_file):
    result = run_verifier(pack_file)
    assert result.returncode == 0, result.stderr
    assert "signature valid" in result.stdout and "audit chain intact" in result.stdout


def test_the_copy_inside_the_pack_verifies_with_only_python_and_cryptography(pack_file, tmp_path):
    with zipfile.ZipFile(pack_file) as zf:
        (tmp_path / "verify.py").write_bytes(zf.read("verify.py"))
    # Run outside the project, in isolated mode: no Django, no project on the path.
    result = subprocess.run([sys.executable, "-I", "verify.py", str(pack_file)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr


def test_changing_one_byte_of_a_file_names_that_file(pack_file, tmp_path):
    with zipfile.ZipFile(pack_file) as zf:
        data = bytearray(zf.read("listings/exceptions.csv"))
    data[-2] ^= 0x01
    tampered = rewrite(pack_file, tmp_path / "t.zip", replace={"listings/exceptions.csv": bytes(data)})
    result = run_verifier(tampered)
    assert result.returncode == 1
    assert "FAILED: file listings/exceptions.csv: SHA-256" in result.stderr


def test_removing_a_file_names_it(pack_file, tmp_path):
    tampered = rewrite(pack_file, tmp_path / "t.zip", drop={"summary.pdf"})
    result = run_verifier(tampered)
    assert result.returncode == 1
    assert "file summary.pdf: missing from the pack" in result.stderr


def test_adding_a_file_names_it(pack_file, tmp_path):
    tampered = rewrite(pack_file, tmp_path / "t.zip")
    with zipfile.ZipFile(tampered, "a") as zf:
        zf.writestr("listings/extra.csv", "x\n")
    report = verify.verify(str(tampered))
    assert report.problems == ["file listings/extra.csv: not listed in the manifest"]


def test_editing_an_audit_event_names_the_event(pack_file, tmp_path, quarter_data):
    folder = f"changes/{quarter_data['good'].number}/audit_events.jsonl"
    with zipfile.ZipFile(pack_file) as zf:
        lines = zf.read(folder).decode().splitlines()
    event = json.loads(lines[0])
    event["actor_label"] = "someone-else"
    lines[0] = json.dumps(event, sort_keys=True, separators=(",", ":"))
    tampered = rewrite(pack_file, tmp_path / "t.zip", replace={folder: ("\n".join(lines) + "\n").encode()})
    result = run_verifier(tampered)
    assert result.returncode == 1
    assert f"file {folder}: SHA-256" in result.stderr
    assert f"audit event #{event['seq']} in {folder} (line 1): its contents do not hash" in result.stderr


def test_a_rewritten_manifest_fails_the_signature(pack_file, tmp_path):
    with zipfile.ZipFile(pack_file) as zf:
        data = json.loads(zf.read("manifest.json"))
    data["counts"]["exceptions"] = 0
    tampered = rewrite(pack_file, tmp_path / "t.zip",
                       replace={"manifest.json": json.dumps(data, sort_keys=True, indent=2).encode()})
    result = run_verifier(tampered)
    assert result.returncode == 1
    assert "FAILED: file manifest.sig: the signature does not match manifest.json" in result.stderr


def test_a_pack_signed_by_another_key_fails_against_the_published_key(pack_file, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "published.pem").write_bytes(other)
    result = run_verifier(pack_file, "--public-key", str(tmp_path / "published.pem"))
    assert result.returncode == 1
    assert "manifest.sig" in result.stderr


def test_a_gap_in_the_chain_names_the_sequence(pack_file, tmp_path):
    with zipfile.ZipFile(pack_file) as zf:
        links = zf.read("audit/chain.jsonl").decode().splitlines()
    assert len(links) >= 3
    del links[1]
    tampered = rewrite(pack_file, tmp_path / "t.zip", replace={"audit/chain.jsonl": ("\n".join(links) + "\n").encode()})
    report = verify.verify(str(tampered))
    assert report.problems[0].startswith("file audit/chain.jsonl: SHA-256")
    assert any("where" in p and "was expected" in p for p in report.problems)
