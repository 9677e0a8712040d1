"""`python -m releaseportal.verify`: a changed byte, a removed file, an edited event or a forged
signature fail, naming what failed; an untouched pack passes against the portal's published key,
and nothing passes without it or against another key (an edited pack re-signed)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

from releaseportal import verify

from .conftest import CONTROL_JULY
from .packs import generate, pack_path, published_key, rewrite

pytestmark = pytest.mark.django_db


@pytest.fixture
def pack(auditor, quarter_data, django_capture_on_commit_callbacks):
    return generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)


@pytest.fixture
def pack_file(pack):
    return pack_path(pack)


@pytest.fixture
def key_file(pack, tmp_path):
    """The portal's published key, saved by the auditor from /audit/keys/."""
    path = tmp_path / "portal-key.pem"
    path.write_bytes(published_key(pack))
    return path


def run_verifier(path, *extra, key=None, module=True, cwd=None):
    keys = ["--public-key", str(key)] if key else []
    cmd = [sys.executable, "-m", "releaseportal.verify", str(path), *keys, *extra] if module else \
        [sys.executable, "verify.py", str(path), *keys, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_an_untouched_pack_verifies_against_the_published_key(pack_file, key_file, pack):
    result = run_verifier(pack_file, key=key_file)
    assert result.returncode == 0, result.stderr
    assert "signature valid" in result.stdout and "audit chain intact" in result.stdout
    # Tests sign with the development key (no EVIDENCE_SIGNING_KEY): the verdict says so, and which key.
    assert pack.signing_key.is_development
    assert f"VERIFIED (development key, not evidence): {pack_file} signed by key {pack.signing_key.key_id}" \
        in result.stdout
    assert f"WARNING: signed with the DEVELOPMENT key {pack.signing_key.key_id}" in result.stdout
    assert "NOT evidence" in result.stderr


def test_a_pack_signed_with_a_configured_key_names_the_key_and_warns_of_nothing(
        auditor, quarter_data, django_capture_on_commit_callbacks, settings, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    settings.EVIDENCE_SIGNING_KEY_PEM = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    pack = generate(auditor, capture=django_capture_on_commit_callbacks, **CONTROL_JULY)
    key = tmp_path / "portal-key.pem"
    key.write_bytes(published_key(pack))
    result = run_verifier(pack_path(pack), key=key)
    assert result.returncode == 0, result.stderr
    assert not pack.signing_key.is_development
    assert f"VERIFIED: {pack_path(pack)} signed by key {pack.signing_key.key_id}" in result.stdout
    assert "DEVELOPMENT" not in result.stdout + result.stderr


def test_it_refuses_a_pack_when_no_published_key_is_given_and_names_the_signer(pack_file, pack):
    result = run_verifier(pack_file)
    assert result.returncode == 1
    assert "VERIFIED" not in result.stdout
    assert "FAILED: file manifest.sig: no published key given" in result.stderr
    assert f"signed by key {pack.signing_key.key_id}" in result.stderr


def _resign(pack_file, tmp_path, *, edit):
    """What a tamperer does: edit a file, fix its hash in the manifest, sign the manifest with
    a key of their own and ship that key in the pack."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with zipfile.ZipFile(pack_file) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        name, data = edit(zf)
    for entry in manifest["files"]:
        if entry["path"] == name:
            entry["sha256"], entry["size"] = hashlib.sha256(data).hexdigest(), len(data)
    forger = Ed25519PrivateKey.generate()
    public_pem = forger.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    forger_id = verify.key_fingerprint(forger.public_key())
    manifest["signing_key"]["key_id"] = forger_id
    public_entry = next(e for e in manifest["files"] if e["path"] == "public_key.pem")
    public_entry["sha256"], public_entry["size"] = hashlib.sha256(public_pem).hexdigest(), len(public_pem)
    manifest_bytes = json.dumps(manifest, sort_keys=True, indent=2).encode()
    tampered = rewrite(pack_file, tmp_path / "resigned.zip", replace={
        name: data, "public_key.pem": public_pem, "manifest.json": manifest_bytes,
        "manifest.sig": base64.b64encode(forger.sign(manifest_bytes)) + b"\n"})
    (tmp_path / "forger.pem").write_bytes(public_pem)
    return tampered, forger_id


def _close_a_draft_change(zf):
    name = next(n for n in zf.namelist() if n.endswith("/change.json"))
    change = json.loads(zf.read(name))
    change["state"] = "closed" if change.get("state") != "closed" else "draft"
    return name, json.dumps(change, sort_keys=True, indent=2).encode()


def test_it_refuses_an_edited_pack_re_signed_with_another_key(pack_file, key_file, pack, tmp_path):
    tampered, forger_id = _resign(pack_file, tmp_path, edit=_close_a_draft_change)
    # The forgery is self-consistent: against the forger's own key it verifies…
    assert run_verifier(tampered, key=tmp_path / "forger.pem").returncode == 0
    # …so without a key it is refused, naming the key that signed it…
    result = run_verifier(tampered)
    assert result.returncode == 1 and "VERIFIED" not in result.stdout
    assert f"signed by key {forger_id}" in result.stderr
    # …and against the portal's published key it fails, naming both keys.
    result = run_verifier(tampered, key=key_file)
    assert result.returncode == 1 and "VERIFIED" not in result.stdout
    assert "FAILED: file manifest.sig: the signature does not match manifest.json" in result.stderr
    assert pack.signing_key.key_id in result.stderr
    assert f"signed by key {forger_id}, which is not the portal's published key" in result.stderr


def test_any_of_several_published_keys_may_have_signed_it(pack_file, key_file, tmp_path):
    """After a rotation the auditor passes every published key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = tmp_path / "rotated.pem"
    other.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    result = run_verifier(pack_file, "--public-key", str(other), key=key_file)
    assert result.returncode == 0, result.stderr


def test_the_copy_inside_the_pack_verifies_with_only_python_and_cryptography(pack_file, key_file, tmp_path):
    with zipfile.ZipFile(pack_file) as zf:
        (tmp_path / "verify.py").write_bytes(zf.read("verify.py"))
    # Run outside the project, in isolated mode: no Django, no project on the path.
    result = subprocess.run([sys.executable, "-I", "verify.py", str(pack_file), "--public-key", str(key_file)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    refused = subprocess.run([sys.executable, "-I", "verify.py", str(pack_file)], capture_output=True, text=True,
                             cwd=tmp_path, timeout=60)
    assert refused.returncode == 1 and "no published key given" in refused.stderr


def test_changing_one_byte_of_a_file_names_that_file(pack_file, key_file, tmp_path):
    with zipfile.ZipFile(pack_file) as zf:
        data = bytearray(zf.read("listings/exceptions.csv"))
    data[-2] ^= 0x01
    tampered = rewrite(pack_file, tmp_path / "t.zip", replace={"listings/exceptions.csv": bytes(data)})
    result = run_verifier(tampered, key=key_file)
    assert result.returncode == 1
    assert "FAILED: file listings/exceptions.csv: SHA-256" in result.stderr


def test_removing_a_file_names_it(pack_file, key_file, tmp_path):
    tampered = rewrite(pack_file, tmp_path / "t.zip", drop={"summary.pdf"})
    result = run_verifier(tampered, key=key_file)
    assert result.returncode == 1
    assert "file summary.pdf: missing from the pack" in result.stderr


def test_adding_a_file_names_it(pack_file, pack, tmp_path):
    tampered = rewrite(pack_file, tmp_path / "t.zip")
    with zipfile.ZipFile(tampered, "a") as zf:
        zf.writestr("listings/extra.csv", "x\n")
    report = verify.verify(str(tampered), [published_key(pack)])
    assert report.problems == ["file listings/extra.csv: not listed in the manifest"]


def test_editing_an_audit_event_names_the_event(pack_file, key_file, tmp_path, quarter_data):
    folder = f"changes/{quarter_data['good'].number}/audit_events.jsonl"
    with zipfile.ZipFile(pack_file) as zf:
        lines = zf.read(folder).decode().splitlines()
    event = json.loads(lines[0])
    event["actor_label"] = "someone-else"
    lines[0] = json.dumps(event, sort_keys=True, separators=(",", ":"))
    tampered = rewrite(pack_file, tmp_path / "t.zip", replace={folder: ("\n".join(lines) + "\n").encode()})
    result = run_verifier(tampered, key=key_file)
    assert result.returncode == 1
    assert f"file {folder}: SHA-256" in result.stderr
    assert f"audit event #{event['seq']} in {folder} (line 1): its contents do not hash" in result.stderr


def test_a_rewritten_manifest_fails_the_signature(pack_file, key_file, tmp_path):
    with zipfile.ZipFile(pack_file) as zf:
        data = json.loads(zf.read("manifest.json"))
    data["counts"]["exceptions"] = 0
    tampered = rewrite(pack_file, tmp_path / "t.zip",
                       replace={"manifest.json": json.dumps(data, sort_keys=True, indent=2).encode()})
    result = run_verifier(tampered, key=key_file)
    assert result.returncode == 1
    assert "FAILED: file manifest.sig: the signature does not match manifest.json" in result.stderr


def test_a_pack_signed_by_another_key_fails_against_the_published_key(pack_file, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "published.pem").write_bytes(other)
    result = run_verifier(pack_file, key=tmp_path / "published.pem")
    assert result.returncode == 1
    assert "manifest.sig" in result.stderr and "not the portal's published key" in result.stderr


def test_a_gap_in_the_chain_names_the_sequence(pack_file, pack, tmp_path):
    with zipfile.ZipFile(pack_file) as zf:
        links = zf.read("audit/chain.jsonl").decode().splitlines()
    assert len(links) >= 3
    del links[1]
    tampered = rewrite(pack_file, tmp_path / "t.zip", replace={"audit/chain.jsonl": ("\n".join(links) + "\n").encode()})
    report = verify.verify(str(tampered), [published_key(pack)])
    assert report.problems[0].startswith("file audit/chain.jsonl: SHA-256")
    assert any("where" in p and "was expected" in p for p in report.problems)
