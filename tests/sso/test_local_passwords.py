"""LOCAL_PASSWORD_LOGIN: passwords for everyone ("on", the demo) or only for accounts flagged
break-glass. Enforced in the authentication backend, so the form is not the only gate."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.sso.models import BreakGlassAccount

pytestmark = pytest.mark.django_db


def test_with_passwords_on_everyone_signs_in_with_a_password(client, settings, requester):
    settings.LOCAL_PASSWORD_LOGIN = "on"
    assert client.post("/account/login/", {"username": "rita", "password": "demo"}).status_code == 302


def test_break_glass_refuses_a_normal_users_password(client, settings, requester):
    settings.LOCAL_PASSWORD_LOGIN = "break-glass"

    response = client.post("/account/login/", {"username": "rita", "password": "demo"})

    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert b"break-glass accounts only" in response.content
    # The backend itself refuses: any caller of authenticate() (the admin's sign-in too).
    assert authenticate(None, username="rita", password="demo") is None
    assert client.post("/admin/login/", {"username": "rita", "password": "demo"}).status_code == 200
    assert "_auth_user_id" not in client.session


def test_break_glass_lets_a_flagged_account_use_its_password(client, settings, superuser):
    settings.LOCAL_PASSWORD_LOGIN = "break-glass"
    call_command("sso_break_glass", "root", reason="identity provider outage")

    assert client.post("/account/login/", {"username": "root", "password": "demo"}).status_code == 302
    flag = BreakGlassAccount.objects.get(user=superuser)
    assert flag.history.get().history_actor_label == "command:sso_break_glass"
    assert AuditEvent.objects.filter(action="sso.break_glass_flagged", object_id=str(superuser.pk)).count() == 1


def test_a_removed_flag_closes_the_password_again(settings, superuser):
    settings.LOCAL_PASSWORD_LOGIN = "break-glass"
    call_command("sso_break_glass", "root", reason="identity provider outage")
    assert authenticate(None, username="root", password="demo") == superuser

    call_command("sso_break_glass", "root", remove=True)

    assert authenticate(None, username="root", password="demo") is None
    assert AuditEvent.objects.filter(action="sso.break_glass_removed").count() == 1


def test_flagging_needs_a_reason(superuser):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="reason"):
        call_command("sso_break_glass", "root")
    assert not BreakGlassAccount.objects.exists()
