"""hotspotctl passwd: the admin web UI's password (every admin session ends with it)."""

from __future__ import annotations

from hotspot.core.command import Command, ExitStatus, fail, say
from hotspot.core.text import write_json


def _passwd(house, ns, _v, env):
    from hotspot.admin.auth import check_new_password, set_password

    if env.stdin.isatty():
        import getpass

        password = getpass.getpass("New admin password: ")
        if getpass.getpass("Again: ") != password:
            return fail(env, "the two passwords differ; nothing changed", ExitStatus.USAGE)
    else:
        password = env.stdin.readline().rstrip("\r\n")
    problem = check_new_password(password)
    if problem:
        return fail(env, f"{problem}; nothing changed", ExitStatus.USAGE)
    set_password(house.cfg.state_dir, password)  # a running hotspotd sees it at the next check: sessions end
    ended = _end_sessions(house.cfg)
    if ns.json:
        return write_json(env.stdout, {"password_set": True, "sessions_ended": ended})
    say(env, "admin password set; every admin session ended")


def _end_sessions(cfg) -> int:
    """Tell a running hotspotd to forget its admin sessions now (the new password ends them anyway);
    how many it had open, 0 without a hotspotd."""
    from hotspot.core.contract import BackendError, socket_path
    from hotspot.portal.hotspotd import IpcBackend

    try:
        return int(IpcBackend(socket_path(cfg.run_dir)).end_sessions()["ended"])
    except (BackendError, OSError, KeyError, TypeError, ValueError):
        return 0


COMMANDS = [Command("passwd", "set the admin web UI's password (asked twice on a terminal, else the first "
                    "line of stdin)", _passwd)]
