"""The pack's summary PDF (WeasyPrint). It depends only on the parameters and the data — no
generation time or person — so it hashes the same when the pack is generated again."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string


def render_summary_pdf(**context: Any) -> bytes:
    from weasyprint import HTML

    html = render_to_string("audit/packs/summary_pdf.html", context)
    return HTML(string=html).write_pdf()
