"""Sign-in throttling holds under concurrency, and an address's limit never locks out a person
who signs in from there with the right password."""

from __future__ import annotations

import threading

import pytest
from django.test import RequestFactory, override_settings

from apps.accounts.forms import ThrottledAuthenticationForm
from apps.accounts.models import User
from tests.concurrency import race


def _sign_in(username: str, password: str, ip: str = "203.0.113.7") -> ThrottledAuthenticationForm:
    request = RequestFactory().post("/account/login/", REMOTE_ADDR=ip)
    form = ThrottledAuthenticationForm(request=request, data={"username": username, "password": password})
    form.is_valid()
    return form


@pytest.fixture
def counted_checks(monkeypatch):
    """How many times a password was actually checked."""
    lock = threading.Lock()
    calls = {"n": 0}
    real = User.check_password

    def check(self, raw):
        with lock:
            calls["n"] += 1
        return real(self, raw)

    monkeypatch.setattr(User, "check_password", check)
    return calls


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(LOGIN_FAILURE_LIMIT=5)
def test_thirty_concurrent_wrong_passwords_run_at_most_five_checks(requester, counted_checks):
    results = race(30, lambda i: _sign_in("rita", f"wrong-{i}").is_valid())
    assert not any(results)
    assert counted_checks["n"] <= 5


@pytest.mark.django_db
@override_settings(LOGIN_FAILURE_LIMIT=5)
def test_the_sixth_sequential_guess_is_not_checked(requester, counted_checks):
    for _ in range(8):
        _sign_in("rita", "wrong")
    assert counted_checks["n"] == 5
    assert not _sign_in("rita", "demo").is_valid()


@pytest.mark.django_db
@override_settings(LOGIN_FAILURE_LIMIT=5)
def test_an_address_full_of_failures_still_lets_a_known_colleague_in(requester, approver):
    assert _sign_in(approver.username, "demo").is_valid()  # signed in from the office before
    for i in range(25):  # someone behind the same NAT sprays usernames
        _sign_in(f"nobody-{i}", "guess")
    assert _sign_in(approver.username, "demo").is_valid()
    assert not _sign_in("stranger", "guess").is_valid()
    assert _sign_in("rita", "demo", ip="198.51.100.1").is_valid()  # other addresses are unaffected
