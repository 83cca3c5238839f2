"""`sharpeyes user add | list | passwd | disable | enable`: operator accounts, managed by an admin at the
console. Passwords come from a prompt, an environment variable or stdin; never a default, never argv
(argv is visible to every user of the machine)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import UTC, datetime

ROLES = ("field", "operator", "supervisor", "admin")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="manage operator accounts for the dashboard")
    user.add_argument("-c", "--config", default="configs/demo.yaml")
    acts = user.add_subparsers(dest="user_command", required=True)

    def config_option(p: argparse.ArgumentParser) -> None:
        # Also after the sub-command (`user add NAME … -c FILE`), as people type it. SUPPRESS: when it is
        # not given there, the sub-parser leaves `config` alone instead of resetting it to its default.
        p.add_argument("-c", "--config", default=argparse.SUPPRESS, help="config file (either position)")

    def password_source(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--password-env", metavar="VAR", help="read the password from this variable")
        g.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    add = acts.add_parser("add", help="create a user")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--street", action="append", help="limit to this street (repeatable)")
    add.add_argument("--grid", action="append", help="limit to this grid (repeatable)")
    add.add_argument("--display-name")
    password_source(add)
    config_option(add)

    config_option(acts.add_parser("list", help="list users (never their hashes)"))
    passwd = acts.add_parser("passwd", help="set a new password; ends the user's sessions")
    passwd.add_argument("username")
    password_source(passwd)
    config_option(passwd)
    for name, text in (("disable", "disable a user; ends their sessions"), ("enable", "enable a user")):
        p = acts.add_parser(name, help=text)
        p.add_argument("username")
        config_option(p)
    user.set_defaults(func=cmd_user)


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env, "")
        if not value:
            raise SystemExit(f"environment variable {args.password_env} is not set")
        return value
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise SystemExit("no password: use a terminal, --password-env VAR or --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("passwords differ")
    return first


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M") if ts else "-"


def cmd_user(args: argparse.Namespace) -> int:
    from alarms.storage.store import Store
    from dashboard.users import UserError, UserStore
    from sharpeyes.settings import ConfigError, SecretsNotNeeded, load_settings

    try:
        settings = load_settings(args.config, SecretsNotNeeded(os.environ))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    store = Store(settings.storage.url)
    try:
        store.migrate()
        users = UserStore(store)
        cmd = args.user_command
        if cmd == "list":
            print(f"{'username':<20} {'role':<11} {'scope':<24} {'state':<9} last sign-in")
            for u in users.list():
                scope = ",".join([*(u.streets or ()), *(u.grids or ())]) or "all"
                state = "disabled" if u.disabled else "active"
                print(f"{u.username:<20} {u.role:<11} {scope:<24} {state:<9} {_when(u.last_login_at)}")
            return 0
        if cmd == "add":
            streets = {g.street for g in settings.grids}
            grids = {g.id for g in settings.grids}
            for s in args.street or ():
                if s not in streets:
                    print(f"unknown street {s!r}; known: {sorted(streets)}", file=sys.stderr)
                    return 1
            for g in args.grid or ():
                if g not in grids:
                    print(f"unknown grid {g!r}; known: {sorted(grids)}", file=sys.stderr)
                    return 1
            u = users.add(
                args.username, _password(args), args.role, args.street, args.grid, args.display_name
            )
            print(f"added {u.username} ({u.role})")
        elif cmd == "passwd":
            users.set_password(args.username, _password(args))
            print(f"password changed for {args.username}; their sessions ended")
        elif cmd in ("disable", "enable"):
            users.set_disabled(args.username, cmd == "disable")
            print(f"{cmd}d {args.username}")
        return 0
    except UserError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        store.close()
