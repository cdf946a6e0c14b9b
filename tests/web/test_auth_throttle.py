"""Failed sign-ins are throttled per account and per client address, in the database."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from portal import create_app, signin_throttle
from portal.models import SigninAttempt, utcnow
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, AuthActions

WRONG = "wrong password, long enough"


def _fail(auth: AuthActions, times: int, email: str = ADMIN_EMAIL) -> None:
    for _ in range(times):
        response = auth.sign_in(email=email, password=WRONG)
        assert response.status_code == 200, response.status_code


def test_five_failures_pause_the_account_even_for_the_right_password(auth, client):
    _fail(auth, signin_throttle.ACCOUNT_LIMIT)
    response = auth.sign_in()
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Too many failed sign-ins" in page
    assert "signing in is paused for 15 minutes" in page
    assert client.get("/").status_code == 302


def test_a_paused_account_does_not_pause_other_accounts(auth, db, org):
    from portal import admins

    admins.create_admin(db, org, "bob@acme.example", "bob's long passphrase", actor="test")
    db.commit()
    _fail(auth, signin_throttle.ACCOUNT_LIMIT)
    assert auth.sign_in(email="bob@acme.example", password="bob's long passphrase").status_code == 303


def test_failures_from_one_client_across_many_accounts_pause_that_client(auth, db):
    for i in range(signin_throttle.CLIENT_LIMIT):
        db.add(SigninAttempt(email=f"guess{i}@acme.example", client="127.0.0.1"))
    db.commit()
    response = auth.sign_in()
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)


def test_the_pause_ends_when_the_failures_are_older_than_the_window(auth, db):
    long_ago = utcnow() - signin_throttle.WINDOW - timedelta(seconds=5)
    for _ in range(signin_throttle.ACCOUNT_LIMIT):
        db.add(SigninAttempt(email=ADMIN_EMAIL, client="127.0.0.1", attempted_at=long_ago))
    db.commit()
    assert auth.sign_in().status_code == 303


def test_the_wait_is_counted_from_the_oldest_recent_failure(db):
    now = utcnow()
    for minutes_ago in (12, 9, 5, 3, 1):
        db.add(SigninAttempt(email=ADMIN_EMAIL, client="10.0.0.9", attempted_at=now - timedelta(minutes=minutes_ago)))
    db.commit()
    refusal = signin_throttle.check(db, ADMIN_EMAIL, "10.0.0.9", now=now)
    assert refusal is not None and refusal.minutes == 3
    assert "3 minutes" in refusal.message


def test_a_successful_signin_forgets_the_accounts_failures(auth, db):
    _fail(auth, signin_throttle.ACCOUNT_LIMIT - 1)
    assert auth.sign_in().status_code == 303
    assert signin_throttle.failures(db, ADMIN_EMAIL) == 0


def test_the_limit_holds_across_portal_processes(auth, config, admin):
    # A second app on the same database stands in for another gunicorn worker.
    _fail(auth, signin_throttle.ACCOUNT_LIMIT)
    other = create_app(replace(config)).test_client()
    assert AuthActions(other).sign_in(password=ADMIN_PASSWORD).status_code == 429
