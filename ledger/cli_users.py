"""``python -m ledger user ...``: staff accounts for the browser pages.

Passwords never appear on the command line (where ``ps`` and shell history would keep them):
they are typed twice at a hidden prompt, or read from standard input with ``--password-stdin``.
"""

from __future__ import annotations

import sys

import click

from ledger.cli_context import Context, pass_context
from ledger.domain.passwords import password_problems
from ledger.errors import LedgerError
from ledger.services import users


@click.group(help="Staff accounts (people who log in to the browser pages).")
def user() -> None:
    pass


def _prompt_password(email: str) -> str:
    def acceptable(password: str) -> str:
        problems = password_problems(password, email)
        if problems:
            raise click.UsageError("; ".join(problems))  # click shows it and asks again
        return password

    value: str = click.prompt(
        "密码 Password",
        hide_input=True,
        confirmation_prompt="再输一次 Repeat the password",
        value_proc=acceptable,
    )
    return value


def _read_password_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on standard input")
    return password


@user.command("create", help="Create an account in an organisation and set its password.")
@click.argument("email")
@click.option("--org", "org_id", required=True, help="The organisation's ID (org_...).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@pass_context
def create(ctx: Context, email: str, org_id: str, password_stdin: bool) -> None:
    try:
        email = users.validated_email(email)  # before asking for a password that would be wasted
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from exc
    password = _read_password_stdin() if password_stdin else _prompt_password(email)
    with ctx.writing() as session:
        created = users.create_user(session, email, org_id, password)
    click.echo(f"account {created.id} for {created.email} in organisation {created.org_id}")


@user.command("unlock", help="Clear an account's failed logins and lift its lock.")
@click.argument("email")
@pass_context
def unlock(ctx: Context, email: str) -> None:
    with ctx.writing() as session:
        unlocked = users.unlock(session, email)
    click.echo(f"account {unlocked.id} for {unlocked.email} unlocked")
