"""The parts of hotspot a router may lack, and where installed files are.

OpenWrt packages the portal (hotspot-portal: Flask, gunicorn) and the DNS snooper (hotspot-snoop)
apart from hotspot, so that a small router can run hotspotd alone. hotspotd then counts and
enforces as ever, says once which parts are off and why, and never starts a process that cannot run;
`hotspotctl status --json` lists them under `parts`.
"""

from __future__ import annotations

import importlib.machinery
import os
from functools import cache
from pathlib import Path

# part -> (the OpenWrt package that brings it, what it is for, the modules it needs)
PARTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "portal": ("hotspot-portal", "the client pages and the admin UI",
               ("hotspot.portal.wsgi", "flask", "gunicorn")),
    "dns_snooper": ("hotspot-snoop", "app categories from the DNS snooper",
                    ("hotspot.apps.snoop.snooper",)),
}


def share_dir() -> Path:
    """Where the package puts the ruleset, the categories list and the web files: /usr/share/hotspot,
    or $HOTSPOT_SHARE (a staged copy of the package)."""
    return Path(os.environ.get("HOTSPOT_SHARE") or "/usr/share/hotspot")


def web_dir() -> Path:
    """Templates, static files and translations: $HOTSPOT_WEB, else the repository's web/, else the
    package's. Here, where hotspotd's portal check and its mail report find it without importing the
    portal (Flask) or the report (Jinja2)."""
    env = os.environ.get("HOTSPOT_WEB")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "web"
    if (repo / "templates").is_dir():
        return repo
    return share_dir() / "web"  # installed layout (openwrt/)


def module_file(name: str) -> str | None:
    """The file a module would load from (its .py, or on OpenWrt its .pyc: the feed ships bytecode
    only), found without importing anything (the parts run in processes of their own: what they import
    is theirs to import); None if it is not installed."""
    path = None
    names = name.split(".")
    for i in range(len(names)):
        spec = importlib.machinery.PathFinder.find_spec(".".join(names[: i + 1]), path)
        if spec is None:
            return None
        if i == len(names) - 1:
            return spec.origin
        path = spec.submodule_search_locations
        if path is None:
            return None
    return None


@cache
def missing(part: str) -> tuple[str, ...]:
    """The modules of a part that are not installed (asked once per process: packages do not come and
    go under a running daemon)."""
    return tuple(m for m in PARTS[part][2] if module_file(m) is None)


def installed(part: str) -> bool:
    return not missing(part)


def why_off(part: str) -> str:
    """One line: what is off, which package brings it, and what is missing."""
    package, what, _ = PARTS[part]
    return (f"{part.replace('_', ' ')} off: {package} is not installed ({what}; no module "
            f"{', '.join(missing(part))})")


def report() -> dict:
    """`parts` in `hotspotctl status --json`: each part, whether it is installed, its package, and the
    modules missing."""
    return {part: {"installed": installed(part), "package": package, "missing": list(missing(part))}
            for part, (package, _, _) in PARTS.items()}
