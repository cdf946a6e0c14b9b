"""`flask --app portal admin …`: create, list and remove admins, and set passwords."""

from __future__ import annotations

from sqlmodel import select

from portal import admins
from portal.models import Admin, AuditEvent

PASSWORD = "a script's long passphrase"


def _admin(db, email):
    db.expire_all()
    return db.exec(select(Admin).where(Admin.email == email)).first()


def test_create_reads_the_password_from_stdin(runner, db, org):
    result = runner.invoke(args=["admin", "create", "Lin@Acme.example", "--org", "acme", "--name", "Lin",
                                 "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Created admin lin@acme.example for acme." in result.output
    assert admins.authenticate(db, "lin@acme.example", PASSWORD) is not None
    assert _admin(db, "lin@acme.example").name == "Lin"
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "admin_created")).one()
    assert (event.actor, event.organization_id) == ("command line", org.id)


def test_create_keeps_spaces_inside_and_around_a_passphrase(runner, db, org):
    result = runner.invoke(args=["admin", "create", "lin@acme.example", "--org", "acme", "--password-stdin"],
                           input=f"  {PASSWORD}  \r\n")
    assert result.exit_code == 0, result.output
    assert admins.authenticate(db, "lin@acme.example", f"  {PASSWORD}  ") is not None


def test_create_prompts_twice_and_asks_again_when_they_differ(runner, db, org):
    result = runner.invoke(args=["admin", "create", "lin@acme.example", "--org", "acme"],
                           input=f"{PASSWORD}\nsomething else, long\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat password:" in result.output
    assert "do not match" in result.output
    assert admins.authenticate(db, "lin@acme.example", PASSWORD) is not None


def test_a_short_password_at_the_prompt_is_refused_and_asked_again(runner, db, org):
    result = runner.invoke(args=["admin", "create", "lin@acme.example", "--org", "acme"],
                           input=f"short\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "at least 12 characters" in result.output


def test_a_short_password_from_stdin_creates_nothing(runner, db, org):
    result = runner.invoke(args=["admin", "create", "lin@acme.example", "--org", "acme", "--password-stdin"],
                           input="short\n")
    assert result.exit_code == 2
    assert "at least 12 characters" in result.output
    assert _admin(db, "lin@acme.example") is None


def test_create_refuses_a_taken_address_and_an_unknown_organisation(runner, admin, org):
    taken = runner.invoke(args=["admin", "create", admin.email, "--org", "acme", "--password-stdin"],
                          input=PASSWORD + "\n")
    assert taken.exit_code == 1 and "already exists" in taken.output
    unknown = runner.invoke(args=["admin", "create", "x@y.example", "--org", "nope", "--password-stdin"],
                            input=PASSWORD + "\n")
    assert unknown.exit_code == 1 and "No organisation with slug 'nope'" in unknown.output


def test_list_shows_only_the_organisations_admins(runner, admin, other_org_admin):
    result = runner.invoke(args=["admin", "list", "--org", "acme"])
    assert result.exit_code == 0, result.output
    assert admin.email in result.output and "Ada Lovelace" in result.output
    assert other_org_admin.email not in result.output


def test_remove_deletes_an_admin_but_never_the_last_one(runner, db, org, admin):
    admins.create_admin(db, org, "lin@acme.example", PASSWORD, actor="test")
    db.commit()
    removed = runner.invoke(args=["admin", "remove", "LIN@acme.example"])
    assert removed.exit_code == 0, removed.output
    assert "Removed admin lin@acme.example." in removed.output
    assert _admin(db, "lin@acme.example") is None
    last = runner.invoke(args=["admin", "remove", admin.email])
    assert last.exit_code == 1
    assert "only admin" in last.output
    assert _admin(db, admin.email) is not None
    unknown = runner.invoke(args=["admin", "remove", "ghost@acme.example"])
    assert unknown.exit_code == 1 and "No admin" in unknown.output


def test_password_sets_a_new_password(runner, db, admin):
    result = runner.invoke(args=["admin", "password", admin.email, "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert admins.authenticate(db, admin.email, PASSWORD) is not None
    assert admins.authenticate(db, admin.email, "correct horse battery staple") is None
