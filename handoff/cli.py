"""`cskh agent ...` and `cskh hub ...` sub-commands (registered by cskh/cli.py)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from .store.models import AGENT_ROLES, DEFAULT_CAPACITY


def register(subparsers: Any) -> None:
    agent = subparsers.add_parser("agent", help="tài khoản nhân viên hỗ trợ (console)")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True)

    add = agent_sub.add_parser("add", help="tạo tài khoản nhân viên")
    add.add_argument("username")
    add.add_argument("--name", help="tên hiển thị (mặc định: username)")
    add.add_argument("--role", choices=AGENT_ROLES, default="agent")
    add.add_argument("--team", help="nhóm (ví dụ: billing)")
    add.add_argument(
        "--capacity",
        type=int,
        default=DEFAULT_CAPACITY,
        help=f"số cuộc trò chuyện tối đa cùng lúc (mặc định {DEFAULT_CAPACITY})",
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="đọc mật khẩu từ stdin (cho script); mặc định hỏi hai lần",
    )
    add.set_defaults(handler=_add)

    passwd = agent_sub.add_parser("passwd", help="đổi mật khẩu (đăng xuất mọi phiên)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    passwd.set_defaults(handler=_passwd)

    set_ = agent_sub.add_parser("set", help="đổi thiết lập của nhân viên")
    set_.add_argument("username")
    set_.add_argument(
        "--capacity", type=int, required=True, help="số cuộc trò chuyện tối đa cùng lúc"
    )
    set_.set_defaults(handler=_set)

    for name, active in (("disable", False), ("enable", True)):
        p = agent_sub.add_parser(name, help=("khóa" if not active else "mở khóa") + " tài khoản")
        p.add_argument("username")
        p.set_defaults(handler=_set_active, active=active)

    ls = agent_sub.add_parser("list", help="liệt kê nhân viên")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)

    hub = subparsers.add_parser("hub", help="conversation hub (FastAPI)")
    hub_sub = hub.add_subparsers(dest="hub_command", required=True)
    hub_sub.add_parser("migrate", help="alembic upgrade head").set_defaults(handler=_migrate)
    hub_sub.add_parser("run", help="chạy hub (như python -m handoff)").set_defaults(handler=_run)


def _accounts() -> Any:
    from .core.accounts import Accounts
    from .settings import HubSettings
    from .store import Store
    from .store.db import make_engine, migrate

    settings = HubSettings()
    engine = make_engine(settings.sqlalchemy_url())
    migrate(engine)
    return Accounts(Store(engine))


def _refused(exc: Exception) -> Exception:
    from .core.copy_vi import error_text

    code = getattr(exc, "code", str(exc))
    return _cli_error(error_text(code, getattr(exc, "params", {})))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Mật khẩu: ")
    if getpass.getpass("Nhập lại mật khẩu: ") != first:
        raise _cli_error("mật khẩu nhập lại không khớp")
    return first


def _cli_error(message: str) -> Exception:
    from cskh.cli import CliError

    return CliError(message)


def _add(args: argparse.Namespace) -> int:
    from .errors import HubError

    password = _password(args)
    try:
        agent = _accounts().create_agent(
            args.username, password, args.name, args.role, args.team, args.capacity
        )
    except HubError as exc:
        raise _refused(exc) from exc
    print(f"đã tạo {agent.role} {agent.username!r} (id {agent.id})")
    return 0


def _set(args: argparse.Namespace) -> int:
    from .errors import HubError

    try:
        _accounts().set_capacity(args.username, args.capacity)
    except HubError as exc:
        raise _refused(exc) from exc
    print(f"{args.username!r}: capacity {args.capacity}")
    return 0


def _passwd(args: argparse.Namespace) -> int:
    from .errors import HubError

    try:
        _accounts().set_password(args.username, _password(args))
    except HubError as exc:
        raise _refused(exc) from exc
    print(f"đã đổi mật khẩu của {args.username!r}")
    return 0


def _set_active(args: argparse.Namespace) -> int:
    from .errors import HubError

    try:
        _accounts().set_active(args.username, args.active)
    except HubError as exc:
        raise _refused(exc) from exc
    print(f"{args.username!r}: {'mở khóa' if args.active else 'đã khóa'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    agents = [a.model_dump() for a in _accounts().list_agents()]
    if args.json:
        print(json.dumps(agents, ensure_ascii=False, indent=2))
        return 0
    for a in agents:
        state = "" if a["active"] else "  (đã khóa)"
        print(
            f"{a['id']:>4}  {a['username']:<20} {a['role']:<11} {a['team'] or '-':<12}"
            f" {a['status']:<6} {a['capacity']:>2}  {a['display_name']}{state}"
        )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    _accounts()
    print("database is at the latest migration")
    return 0


def _run(args: argparse.Namespace) -> int:
    from .__main__ import main

    return main()
