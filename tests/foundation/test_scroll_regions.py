"""Wide tables scroll inside their own named, focusable region ({% scrollregion %}), so no page
widens at 1366 or 390 px and the region is reachable by keyboard (axe scrollable-region-focusable)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import Context, Template, TemplateSyntaxError

ROOT = Path(__file__).resolve().parents[2]


def test_a_region_is_named_focusable_and_escapes_its_label():
    html = Template('{% scrollregion "Changes" name %}<table></table>{% endscrollregion %}').render(
        Context({"name": '<b>"x"</b>'}))
    assert html == ('<div class="table-scroll" role="region" tabindex="0" '
                    'aria-label="Changes &lt;b&gt;&quot;x&quot;&lt;/b&gt;"><table></table></div>')


def test_a_region_can_be_named_by_its_heading():
    html = Template('{% scrollregion labelledby="h-"|add:slug %}<table></table>{% endscrollregion %}').render(
        Context({"slug": "api"}))
    assert html == '<div class="table-scroll" role="region" tabindex="0" aria-labelledby="h-api"><table></table></div>'


@pytest.mark.parametrize("source", ['{% scrollregion %}x{% endscrollregion %}',
                                    '{% scrollregion "A" labelledby="b" %}x{% endscrollregion %}',
                                    '{% scrollregion "A" colour="red" %}x{% endscrollregion %}'])
def test_a_region_needs_exactly_one_name(source):
    with pytest.raises(TemplateSyntaxError):
        Template(source)


def test_every_data_table_of_every_page_is_inside_a_scroll_region():
    unwrapped = []
    for path in sorted(ROOT.glob("apps/*/templates/**/*.html")) + sorted(ROOT.glob("templates/**/*.html")):
        text = path.read_text()
        for match in re.finditer(r'<table class="data', text):
            before = text[:match.start()]
            if before.count("{% scrollregion") <= before.count("{% endscrollregion %}"):
                unwrapped.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}")
    assert not unwrapped, "tables outside {% scrollregion %}:\n" + "\n".join(unwrapped)
