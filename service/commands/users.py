"""`chipao users`: create users, issue and revoke API tokens, read the audit log.

Users live in the catalog database (setting ``database_url``). Passwords are asked for at the
prompt (never on the command line, where shell history and ``ps`` would keep them) unless
``--password-stdin`` is given for scripts.
"""

from __future__ import annotations

import json
import sys

import click

from service.settings import settings_from_env


def _store():
    from service.store.users import UserStore

    return UserStore(settings_from_env().database_url)


@click.group("users")
def command() -> None:
    """Users (national / provincial), API tokens and the audit log."""


@command.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["national", "provincial"]), required=True)
@click.option("--province", default=None, help="Province code of a provincial user, e.g. TH50.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--no-password", is_flag=True, help="API-token-only user (cannot sign in).")
def create(username: str, role: str, province: str | None, password_stdin: bool,
           no_password: bool) -> None:
    """Create a user. ผู้ใช้ระดับจังหวัดต้องระบุ --province"""

    if no_password:
        password = None
    elif password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password / รหัสผ่าน", hide_input=True,
                                confirmation_prompt=True)
    user = _store().create_user(username, password, role, province)
    click.echo(f"created {user.role} user {user.username}"
               + (f" ({user.province})" if user.province else ""))


@command.command("list")
def list_users() -> None:
    """List users (no secrets)."""
    for u in _store().list_users():
        state = "active" if u.active else "disabled"
        click.echo(f"{u.username}\t{u.role}\t{u.province or '-'}\t{state}")


@command.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
def password(username: str, password_stdin: bool) -> None:
    """Set a new password."""

    pw = (sys.stdin.readline().rstrip("\r\n") if password_stdin else
          click.prompt("New password / รหัสผ่านใหม่", hide_input=True,
                       confirmation_prompt=True))
    _store().set_password(username, pw)
    click.echo(f"password of {username} changed")


@command.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable a user: sign-in refused, sessions void, every token revoked."""

    _store().deactivate_user(username)
    click.echo(f"{username} disabled; all tokens revoked")


@command.command("token")
@click.argument("username")
@click.option("--label", default="", help="What the token is for (shown in `tokens`).")
def token(username: str, label: str) -> None:
    """Issue an API token. It is printed once; only its hash is stored."""

    secret, tid = _store().create_token(username, label)
    click.echo(f"token id {tid} for {username} (shown once, keep it secret):", err=True)
    click.echo(secret)


@command.command("tokens")
@click.option("--user", "username", default=None)
def tokens(username: str | None) -> None:
    """List tokens (id, user, label, created, revoked) without their secrets."""
    for t in _store().list_tokens(username):
        revoked = t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "-"
        click.echo(f"{t.id}\t{t.username}\t{t.label or '-'}\t"
                   f"{t.created_at.isoformat(timespec='seconds')}\t{revoked}")


@command.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke a token by id (see `chipao users tokens`)."""

    _store().revoke_token(token_id)
    click.echo(f"token {token_id} revoked")


@command.command("audit")
@click.option("--limit", default=50, show_default=True, type=int)
def audit(limit: int) -> None:
    """Latest audit rows (household-level reads and exports) as JSON lines."""
    for row in _store().audit_rows(limit=limit):
        row["at"] = row["at"].isoformat() if row["at"] else None
        click.echo(json.dumps(row, ensure_ascii=False))
