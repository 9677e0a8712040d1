"""Home-page panel for executives: last month's four keys (cached for a few minutes: the panel
loads the organisation's rows, a fixed number of queries but not a cheap one) and a link to the
newest organisation report PDF (one query)."""

from __future__ import annotations

from django.core.cache import cache
from django.utils import timezone


def panels(request) -> list[dict]:
    user = request.user
    if not user.has_role("executive"):
        return []
    from . import presentation
    from .models import ReportRun
    from .periods import Month, report_timezone
    from .snapshots import cached_report

    month = Month.containing(timezone.now(), report_timezone()).previous()
    key = f"reports:panel:{month.label}"
    data = cache.get(key)
    if data is None:
        report = cached_report(month, trend_months=2, breakdown=False)
        data = {"month": month.display(), "cards": presentation.key_cards(report)}
        cache.set(key, data, 600)
    last_report = (ReportRun.objects.filter(scope_type="organisation").order_by("-period", "-version")
                   .only("pk", "period", "version", "generated_at").first())
    return [{"title": f"DORA — {data['month']}", "template": "reports/panel.html",
             "data": {**data, "last_report": last_report}, "order": 20}]
