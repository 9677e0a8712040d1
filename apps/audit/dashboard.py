"""Home panels for auditors (issue #16: the home page is per role): a search box into the audit
workspace, the newest evidence packs with the way to request one, and the state of the chain
(its head against the newest signed anchor).

The anchor is read from the archive storage and its signature checked, so the result is cached
for a few minutes; the comparison with the live row at the anchored sequence number is one
query on every load, so a rewritten anchored link shows at once."""

from __future__ import annotations

from django.core.cache import cache

from .anchors import HEAD, newest_valid_anchor
from .models import AuditEvent
from .permissions import can_use_evidence_packs, evidence_packs_for

ANCHOR_CACHE_SECONDS = 300


def panels(request) -> list[dict]:
    user = request.user
    if not can_use_evidence_packs(user):
        return []
    packs = list(evidence_packs_for(user).order_by("-requested_at", "-id")[:5])
    return [
        {"title": "Search the audit trail", "template": "audit/panels/search.html", "order": 3, "data": {}},
        {"title": "Evidence packs", "template": "audit/panels/packs.html", "order": 21, "data": {"packs": packs}},
        {"title": "Audit chain", "template": "audit/panels/chain.html", "order": 22, "data": chain_status()},
    ]


def chain_status() -> dict:
    head = AuditEvent.objects.order_by("-seq").values("seq", "created_at").first()
    anchor = cache.get("audit:panel:anchor")
    if anchor is None:
        newest, problems = newest_valid_anchor(HEAD)
        anchor = {"seq": newest.seq, "hash": newest.hash, "anchored_at": newest.anchored_at,
                  "problems": problems} if newest else {"seq": None, "problems": problems}
        cache.set("audit:panel:anchor", anchor, ANCHOR_CACHE_SECONDS)
    state = "unanchored"
    if anchor["seq"] is not None:
        stored = AuditEvent.objects.filter(seq=anchor["seq"]).values_list("hash", flat=True).first()
        state = "matches" if stored == anchor["hash"] else "differs"
    if anchor["problems"]:
        state = "differs"
    behind = head["seq"] - anchor["seq"] if head and anchor["seq"] is not None else None
    return {"head": head, "anchor": anchor, "state": state, "behind": behind}
