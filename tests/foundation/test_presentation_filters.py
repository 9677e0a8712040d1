import datetime as dt
import zoneinfo

from django.template import Context, Template
from django.utils import timezone

from releaseportal.templatetags.portal import person_audit, person_name, when_text


def test_people_are_named_by_full_name_else_username(django_user_model):
    priya = django_user_model(username="payments-lead", first_name="Priya", last_name="Raman")
    bare = django_user_model(username="ci-bot")
    assert person_name(priya) == "Priya Raman"
    assert person_name(bare) == "ci-bot"
    assert person_name(None) == "—"
    assert str(person_audit(priya)) == 'Priya Raman <span class="muted">(payments-lead)</span>'
    assert str(person_audit(bare)) == "ci-bot"


def test_timestamps_read_in_words_in_the_viewers_timezone():
    instant = dt.datetime(2026, 12, 3, 17, 24, 9, tzinfo=dt.UTC)
    assert when_text(instant) == "3 Dec 2026, 17:24 UTC"
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        assert when_text(instant) == "3 Dec 2026, 18:24 CET"
    assert when_text(dt.date(2026, 2, 1)) == "1 Feb 2026"
    assert when_text("2026-12-03T17:24:09+00:00") == "3 Dec 2026, 17:24 UTC"
    assert when_text(None) == "—"


def test_the_filters_are_builtins_in_every_template(django_user_model):
    priya = django_user_model(username="payments-lead", first_name="Priya", last_name="Raman")
    out = Template("{{ u|person }} at {{ t|when }} / {{ t|when_tag }}").render(
        Context({"u": priya, "t": dt.datetime(2026, 12, 3, 17, 24, tzinfo=dt.UTC)}))
    assert out == ('Priya Raman at 3 Dec 2026, 17:24 UTC / '
                   '<time datetime="2026-12-03T17:24:00+00:00">3 Dec 2026, 17:24 UTC</time>')
