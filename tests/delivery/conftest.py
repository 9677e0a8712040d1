"""Delivery test fixtures: changes in a deployable state, artifacts, keys, policies."""

from __future__ import annotations

import base64
import hashlib
import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from django.utils import timezone

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
_counter = itertools.count(1)


def digest_of(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def pem_of(private_key) -> str:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(private_key, digest: str) -> str:
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        raw = private_key.sign(digest.encode())
    else:
        raw = private_key.sign(digest.encode(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(raw).decode()


def shared_fixture(relative: str) -> Path:
    path = FIXTURES / relative
    if not path.exists():
        pytest.skip(f"../shared/fixtures/{relative} is not available")
    return path


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Personas are created with a password; a slow hasher only makes these tests slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def change_type(db):
    """The seeded Normal change type with its approval stages (a transactional flush removes
    migration data: put it back)."""
    import importlib

    from django.apps import apps as django_apps

    from apps.change_types.models import ChangeType

    if not ChangeType.objects.filter(slug="normal").exists():
        importlib.import_module("apps.change_types.migrations.0003_seed_change_types").seed_change_types(django_apps)
    return ChangeType.objects.get(slug="normal")


APPROVED_STATES = {"approved", "scheduled", "implementing"}


def approve_fully(change) -> None:
    """Give every mandatory stage that applies an approval on the change's current content, each
    by its own person (neither requester nor implementer), as the approval engine would have."""
    from apps.accounts.models import User
    from apps.changes.models import Approval
    from apps.changes.workflow import applicable_stages, content_hash

    current = content_hash(change)
    for stage in applicable_stages(change):
        if not stage.mandatory:
            continue
        for n in range(stage.quorum if stage.rule == "quorum" else 1):
            person = User.objects.get_or_create(username=f"approver-{stage.pk}-{n}")[0]
            Approval.objects.create(change=change, stage=stage, stage_name=stage.name, approver=person,
                                    decision=Approval.Decision.APPROVE, content_hash=current)
    change.content_hash = current
    change.approved_at = change.approved_at or timezone.now()
    change.save(update_fields=["content_hash", "approved_at"])


@pytest.fixture
def make_change(change_type, requester, service, environments):
    """make_change(state="scheduled", env="prod", svc=None, approved=None, **fields). A change in
    approved, scheduled or implementing is approved for real (approval rows on its content) unless
    `approved=False`."""
    from apps.changes.models import ChangeRequest

    def make(state="scheduled", env="prod", svc=None, approved=None, **extra):
        now = timezone.now()
        fields = {"change_type": change_type, "planned_start": now - timedelta(hours=1),
                  "planned_end": now + timedelta(hours=2), **extra}
        change = ChangeRequest.objects.create(
            title="Ship it", service=svc or service, environment=environments[env], requester=requester, state=state,
            **fields)
        change.number = ChangeRequest.format_number(change.pk)
        change.save(update_fields=["number"])
        if approved if approved is not None else state in APPROVED_STATES:
            approve_fully(change)
        return change

    return make


@pytest.fixture
def deployer(service_account, service):
    from guardian.shortcuts import assign_perm

    assign_perm("catalog.deploy_service", service_account, service)
    return service_account


@pytest.fixture
def pipeline(api_client_for, deployer, environments):
    """The CI service account with a delivery token and the deployer privilege on the service."""
    return api_client_for(deployer, ["delivery:read", "delivery:write"])


@pytest.fixture
def make_artifact(service, service_account):
    from apps.delivery.models import Artifact

    def make(version=None, svc=None, **extra):
        n = next(_counter)
        version = version or f"1.0.{n}"
        return Artifact.objects.create(service=svc or service, version=version, digest=digest_of(f"{version}-{n}"),
                                       git_sha="a" * 40, format="oci_image", created_by=service_account, **extra)

    return make


@pytest.fixture
def ship_to_staging(make_artifact, environments):
    """ship(sha=..., version=...): an artifact built from commit `sha`, deployed to staging just
    now with that commit — what a merged pull request's section shows."""
    from apps.delivery.models import Deployment, DeploymentCommit

    def ship(*, sha, version, svc=None, authored_ago=timedelta(hours=1)):
        artifact = make_artifact(version=version, svc=svc)
        artifact.git_sha = sha
        artifact.save()
        now = timezone.now()
        deployment = Deployment.objects.create(service=artifact.service, environment=environments["staging"],
                                               artifact=artifact, version=version, status="succeeded",
                                               started_at=now - timedelta(minutes=5), finished_at=now)
        DeploymentCommit.objects.create(deployment=deployment, sha=sha, authored_at=now - authored_ago)
        return deployment

    return ship


@pytest.fixture
def promoted(environments):
    """promoted(artifact, "staging"): a succeeded deployment of the artifact to that environment."""
    from apps.delivery.models import Deployment

    def make(artifact, env="staging", days_ago=0):
        at = timezone.now() - timedelta(days=days_ago)
        return Deployment.objects.create(service=artifact.service, environment=environments[env], artifact=artifact,
                                         version=artifact.version, status="succeeded", started_at=at - timedelta(minutes=5),
                                         finished_at=at)

    return make


@pytest.fixture
def prod_policy(environments):
    from apps.delivery.models import EnvironmentPolicy

    return EnvironmentPolicy.objects.create(
        environment=environments["prod"], require_signature=True, tests_must_pass=True, provenance_required=True,
        max_critical=0, max_high=3, license_deny=["AGPL-3.0-only"], promotion_max_age_days=14, lock_timeout_minutes=30)


@pytest.fixture
def ed25519_key():
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def p256_key():
    return ec.generate_private_key(ec.SECP256R1())
