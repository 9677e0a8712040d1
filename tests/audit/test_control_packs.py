"""Control packs beyond SOX: HIPAA change control and PCI DSS 6.5 change control are built from
the same records, each over its own population (production deployments of services in its
compliance scope), and each names its controls with the findings held against them."""

from __future__ import annotations

import zipfile

import pytest

from apps.audit.packs.scope import CONTROL_PACKS, CONTROLS

from .conftest import at
from .packs import generate, manifest, pack_path, read_csv

pytestmark = pytest.mark.django_db

JULY = {"period_start": "2026-07-01", "period_end": "2026-07-31"}


@pytest.fixture
def clinic_deployment(make_deployment, team):
    from tests.factories import ServiceFactory

    clinic = ServiceFactory(slug="clinic", owner_team=team, compliance_scopes=["hipaa"])
    return make_deployment(change=None, started_at=at(9), svc=clinic)


def _build(auditor, capture, control):
    pack = generate(auditor, capture=capture, control=control, **JULY)
    with zipfile.ZipFile(pack_path(pack)) as zf:
        ids = {int(r["deployment_id"]) for r in read_csv(zf, "listings/deployments.csv")}
        return pack, ids, manifest(zf), zf.read("summary.pdf")


def test_the_three_packs_are_offered():
    assert set(CONTROLS) == {"sox_change_management", "hipaa_change_control", "pci_dss_6_5_change_control"}


def test_the_hipaa_pack_covers_hipaa_services_and_names_its_controls(auditor, quarter_data, clinic_deployment,
                                                                     django_capture_on_commit_callbacks):
    pack, ids, data, pdf = _build(auditor, django_capture_on_commit_callbacks, "hipaa_change_control")
    assert ids == {clinic_deployment.pk}  # payments-api is SOX and PCI, not HIPAA
    assert pack.counts["production_deployments"] == 1 and pack.counts["exceptions"] == 1
    controls = {c["id"]: c for c in data["control"]["controls"]}
    assert set(controls) == {"164.308(a)(8)", "164.308(a)(3)(ii)(A)", "164.308(a)(6)(ii)", "164.308(a)(1)(ii)(D)",
                             "164.312(b)", "164.312(c)(1)"}
    assert controls["164.308(a)(8)"]["findings"] == 1  # the clinic deployment had no change request
    assert controls["164.308(a)(3)(ii)(A)"]["findings"] == 0
    assert data["control"]["title"].startswith("HIPAA change control")
    assert pdf.startswith(b"%PDF")


def test_the_pci_pack_covers_pci_services_and_holds_findings_against_6_5(auditor, quarter_data, clinic_deployment,
                                                                        django_capture_on_commit_callbacks):
    pack, ids, data, _ = _build(auditor, django_capture_on_commit_callbacks, "pci_dss_6_5_change_control")
    expected = {quarter_data[k].pk for k in ("good_dep", "late_dep", "unapproved_dep", "emergency_dep", "orphan_dep")}
    assert ids == expected
    controls = {c["id"]: c for c in data["control"]["controls"]}
    assert set(controls) == {"6.5.1", "6.5.2", "6.5.4", "10.2"}
    # no_change, approved_after_deployment, change_not_approved, emergency without retrospective approval
    assert controls["6.5.1"]["findings"] == 4
    assert controls["6.5.4"]["findings"] == 0


def test_the_sox_pack_keeps_every_production_deployment_and_now_names_its_controls(
        auditor, quarter_data, clinic_deployment, django_capture_on_commit_callbacks):
    pack, ids, data, _ = _build(auditor, django_capture_on_commit_callbacks, "sox_change_management")
    assert clinic_deployment.pk in ids and len(ids) == 6
    assert [c["id"] for c in data["control"]["controls"]] == [
        item.id for item in CONTROL_PACKS["sox_change_management"].items]


def test_an_unknown_control_is_refused_naming_the_three(auditor):
    from apps.audit.evidence import evidence_pack_request
    from releaseportal.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        evidence_pack_request(scope="control_period", data={"control": "gdpr", **JULY}, actor=auditor)
    assert "hipaa_change_control" in refused.value.fields["control"][0]
