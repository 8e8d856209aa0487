"""Staff accounts on SQLite and PostgreSQL: creation, login, lockout, and the ``user`` commands."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from ledger.cli import main
from ledger.db.engine import transaction
from ledger.db.tables import User
from ledger.domain.passwords import CURRENT, ScryptParams, hash_password, needs_rehash, verify_password
from ledger.errors import NotFound
from ledger.services import orgs, users
from ledger.services.users import InvalidEmail, Refusal, UserExists, WeakPassword

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "冷链 cold chain 2026"  # noqa: S105 (test data)
NOW = datetime(2026, 3, 15, 9, 30, tzinfo=UTC)


@pytest.fixture
def org_id(engine: Engine) -> str:
    with transaction(engine) as session:
        return orgs.create_organisation(session, "杭州市西湖区市场监督管理局", ["inspector"]).org_id


@pytest.fixture
def account(engine: Engine, org_id: str) -> User:
    with transaction(engine) as session:
        return users.create_user(session, "wang.fang@example.cn", org_id, PASSWORD)


def login(engine: Engine, password: str, now: datetime = NOW, email: str = "wang.fang@example.cn") -> User | Refusal:
    with transaction(engine) as session:
        return users.authenticate(session, email, password, now)


def stored(engine: Engine, user_id: int) -> User:
    with transaction(engine, readonly=True) as session:
        found = session.get(User, user_id)
        assert found is not None
        return found


def test_an_account_keeps_a_normalised_email_and_only_a_scrypt_hash(engine: Engine, org_id: str) -> None:
    with transaction(engine) as session:
        created = users.create_user(session, "  Wang.Fang＠Example.CN ", org_id, PASSWORD)
    row = stored(engine, created.id)
    assert row.email == "wang.fang@example.cn" and row.org_id == org_id
    assert row.password_hash.startswith("$scrypt$ln=15,r=8,p=1$") and PASSWORD not in row.password_hash
    assert verify_password(PASSWORD, row.password_hash)
    assert (row.failed_logins, row.locked_until, row.disabled) == (0, None, False)


@pytest.mark.parametrize(
    ("email", "org", "password", "error"),
    [
        ("not an email", None, PASSWORD, InvalidEmail),
        ("wang@localhost", None, PASSWORD, InvalidEmail),
        ("wang@example..cn", None, PASSWORD, InvalidEmail),
        ("li.na@example.cn", "org_doesnotexist0", PASSWORD, NotFound),
        ("li.na@example.cn", None, "short", WeakPassword),
        ("li.na@example.cn", None, "li.na@example.cn", WeakPassword),
        ("WANG.FANG@example.cn", None, PASSWORD, UserExists),
    ],
)
def test_create_user_refuses_bad_input(
    engine: Engine, org_id: str, account: User, email: str, org: str | None, password: str, error: type[Exception]
) -> None:
    with pytest.raises(error), transaction(engine) as session:
        users.create_user(session, email, org or org_id, password)
    with transaction(engine, readonly=True) as session:
        assert session.scalars(select(User.email)).all() == ["wang.fang@example.cn"]


def test_the_right_password_logs_in_whatever_the_case_of_the_email(engine: Engine, account: User) -> None:
    result = login(engine, PASSWORD, email="WANG.FANG@EXAMPLE.CN")
    assert isinstance(result, User) and result.id == account.id


def test_unknown_email_and_wrong_password_cost_one_scrypt_each(
    engine: Engine, account: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same work whatever the outcome, so timing does not reveal which emails have accounts."""
    checked: list[str] = []
    real = users.verify_password

    def spy(password: str, encoded: str) -> bool:
        checked.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(users, "verify_password", spy)
    assert login(engine, "a wrong password") is Refusal.WRONG_PASSWORD
    assert login(engine, "a wrong password", email="nobody@example.cn") is Refusal.UNKNOWN_EMAIL
    assert login(engine, "a wrong password", email="") is Refusal.UNKNOWN_EMAIL
    assert len(checked) == 3
    assert all(not needs_rehash(encoded) for encoded in checked)  # the decoy costs what a real hash costs
    assert checked[1] != account.password_hash


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(engine: Engine, account: User) -> None:
    for attempt in range(1, 5):
        assert login(engine, f"wrong password {attempt}") is Refusal.WRONG_PASSWORD
        assert stored(engine, account.id).locked_until is None
    assert login(engine, "wrong password 5") is Refusal.WRONG_PASSWORD
    row = stored(engine, account.id)
    assert row.failed_logins == 5 and row.locked_until == NOW + timedelta(minutes=15)

    later = NOW + timedelta(minutes=14)
    assert login(engine, PASSWORD, later) is Refusal.LOCKED
    assert login(engine, "still guessing", later) is Refusal.LOCKED
    assert stored(engine, account.id).failed_logins == 5  # tries while locked do not count

    result = login(engine, PASSWORD, NOW + timedelta(minutes=15))
    assert isinstance(result, User)
    row = stored(engine, account.id)
    assert (row.failed_logins, row.locked_until) == (0, None)


def test_the_second_lock_lasts_twice_as_long(engine: Engine, account: User) -> None:
    now = NOW
    for round_length in (15, 30):
        for _ in range(5):
            assert login(engine, "wrong password", now) is Refusal.WRONG_PASSWORD
        assert stored(engine, account.id).locked_until == now + timedelta(minutes=round_length)
        now += timedelta(minutes=round_length)
    assert stored(engine, account.id).failed_logins == 10


def test_a_success_resets_the_count_of_failures(engine: Engine, account: User) -> None:
    for _ in range(4):
        login(engine, "wrong password")
    assert isinstance(login(engine, PASSWORD), User)
    for _ in range(4):
        login(engine, "wrong password")
    row = stored(engine, account.id)
    assert (row.failed_logins, row.locked_until) == (4, None)


def test_concurrent_wrong_passwords_are_all_counted(engine: Engine, account: User) -> None:
    def guess() -> None:
        for _ in range(2):
            login(engine, "wrong password")

    threads = [threading.Thread(target=guess) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    row = stored(engine, account.id)
    assert row.failed_logins == 4  # none lost to two read-modify-writes overlapping


def test_a_disabled_account_cannot_log_in(engine: Engine, account: User) -> None:
    with transaction(engine) as session:
        row = session.get(User, account.id)
        assert row is not None
        row.disabled = True
    assert login(engine, PASSWORD) is Refusal.DISABLED


def test_a_login_upgrades_a_hash_made_with_old_parameters(engine: Engine, account: User) -> None:
    with transaction(engine) as session:
        row = session.get(User, account.id)
        assert row is not None
        row.password_hash = hash_password(PASSWORD, ScryptParams(log2_n=12))
    assert login(engine, "wrong password") is Refusal.WRONG_PASSWORD
    assert needs_rehash(stored(engine, account.id).password_hash)  # only a successful login rehashes
    assert isinstance(login(engine, PASSWORD), User)
    upgraded = stored(engine, account.id).password_hash
    assert not needs_rehash(upgraded, CURRENT) and verify_password(PASSWORD, upgraded)


def test_set_password_checks_the_policy_and_lifts_a_lock(engine: Engine, account: User) -> None:
    for _ in range(5):
        login(engine, "wrong password")
    with transaction(engine) as session:
        row = session.get(User, account.id)
        assert row is not None
        with pytest.raises(WeakPassword):
            users.set_password(session, row, "tooshort")
        users.set_password(session, row, "a brand new passphrase")
    assert isinstance(login(engine, "a brand new passphrase"), User)
    assert login(engine, PASSWORD) is Refusal.WRONG_PASSWORD


def test_unlock_clears_failures_and_the_lock(engine: Engine, account: User) -> None:
    for _ in range(5):
        login(engine, "wrong password")
    with transaction(engine) as session:
        users.unlock(session, "Wang.Fang@example.cn")
        with pytest.raises(NotFound):
            users.unlock(session, "nobody@example.cn")
    assert isinstance(login(engine, PASSWORD), User)


def test_describe_names_the_organisation_and_its_roles(engine: Engine, account: User, org_id: str) -> None:
    with transaction(engine, readonly=True) as session:
        view = users.describe(session, account.id)
        assert users.describe(session, account.id + 1000) is None
    assert view == users.AccountView(
        account.id, "wang.fang@example.cn", org_id, "杭州市西湖区市场监督管理局", ("inspector",)
    )


# -- python -m ledger user ... -------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str) -> Callable[..., str]:
    runner = CliRunner()

    def invoke(*args: str, stdin: str = "", expect: int = 0) -> str:
        result = runner.invoke(main, list(args), input=stdin, env={"LEDGER_DATABASE_URL": database_url})
        assert result.exit_code == expect, result.output
        return result.output

    return invoke


def test_user_create_asks_twice_and_again_when_the_password_is_weak(
    cli: Callable[..., str], engine: Engine, org_id: str
) -> None:
    answers = ["short", PASSWORD, PASSWORD]
    out = cli("user", "create", "Li.Na@example.cn", "--org", org_id, stdin="\n".join(answers) + "\n")
    assert "at least 10 characters" in out and "account 1 for li.na@example.cn" in out
    assert PASSWORD not in out  # hidden input
    assert isinstance(login(engine, PASSWORD, email="li.na@example.cn"), User)


def test_user_create_refuses_two_different_passwords(cli: Callable[..., str], engine: Engine, org_id: str) -> None:
    answers = [PASSWORD, PASSWORD + "x", PASSWORD, PASSWORD]
    out = cli("user", "create", "li.na@example.cn", "--org", org_id, stdin="\n".join(answers) + "\n")
    assert "do not match" in out
    assert isinstance(login(engine, PASSWORD, email="li.na@example.cn"), User)


def test_user_create_explains_what_is_wrong(cli: Callable[..., str], org_id: str, account: User) -> None:
    stdin = PASSWORD + "\n"
    assert "no organisation org_nope" in cli(
        "user", "create", "li.na@example.cn", "--org", "org_nope", "--password-stdin", stdin=stdin, expect=1
    )
    assert "exists already" in cli(
        "user", "create", "wang.fang@example.cn", "--org", org_id, "--password-stdin", stdin=stdin, expect=1
    )
    assert "not an email address" in cli("user", "create", "li.na", "--org", org_id, "--password-stdin", expect=1)
    assert "no password on standard input" in cli(
        "user", "create", "li.na@example.cn", "--org", org_id, "--password-stdin", expect=1
    )
    weak = cli("user", "create", "li.na@example.cn", "--org", org_id, "--password-stdin", stdin="li.na\n", expect=1)
    assert "at least 10 characters" in weak and "li.na" not in weak.replace("li.na@", "")


def test_user_unlock(cli: Callable[..., str], engine: Engine, account: User) -> None:
    for _ in range(5):
        login(engine, "wrong password")
    assert "unlocked" in cli("user", "unlock", "wang.fang@example.cn")
    assert isinstance(login(engine, PASSWORD), User)
    assert "no account for nobody@example.cn" in cli("user", "unlock", "nobody@example.cn", expect=1)


def test_an_operator_script_creates_an_account_with_password_stdin(
    database_url: str, engine: Engine, org_id: str, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEDGER_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "ledger", "user", "create", "ops@example.cn", "--org", org_id, "--password-stdin"],
        input=PASSWORD + "\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "ops@example.cn" in done.stdout and PASSWORD not in done.stdout + done.stderr
    assert isinstance(login(engine, PASSWORD, email="ops@example.cn"), User)
