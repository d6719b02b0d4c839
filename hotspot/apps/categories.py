"""Which kind of app a destination name belongs to: the shipped, editable categories list.

The categories are fixed (the kernel has a pair of address sets for each, nft/hotspot.nft); the
domains in each are the owner's to edit. Matching is by domain suffix, the longest match winning, so
`video.example.com` can sit in one category while `example.com` sits in another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hotspot.core.parts import share_dir

# The order is the kernel's too: a packet meets the sets in this order (see nft/hotspot.nft).
CATEGORIES = ("video", "social", "messaging", "maps", "backup", "updates", "games")
OTHER = "other"  # everything metered that no category claims: total minus the categories
# Beside this module in the source tree; on OpenWrt in /usr/share/hotspot (openwrt/Makefile)
BUILTIN = Path(__file__).with_name("categories.conf")
if not BUILTIN.exists():
    BUILTIN = share_dir() / "categories.conf"

_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*", re.ASCII)


class CategoriesError(Exception):
    """A list that cannot be used; one line per problem, FILE:LINE: reason."""


@dataclass
class Categories:
    domains: dict[str, str] = field(default_factory=dict)  # domain -> category
    path: str = ""

    def match(self, name: str) -> str | None:
        """The category of a DNS name (any case, with or without the final dot), or None."""
        name = name.lower().rstrip(".")
        while name:
            cat = self.domains.get(name)
            if cat is not None:
                return cat
            dot = name.find(".")
            if dot < 0:
                return None
            name = name[dot + 1:]
        return None

    def by_category(self) -> dict[str, list[str]]:
        """{category: its domains, sorted}, every category present."""
        out: dict[str, list[str]] = {c: [] for c in CATEGORIES}
        for domain, cat in sorted(self.domains.items()):
            out[cat].append(domain)
        return out


def parse(text: str, path: str = "<categories>") -> Categories:
    """Every mistake is reported at once, in file order."""
    errors, domains, where = [], {}, {}
    section = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            name = line[1:-1].strip().lower() if line.endswith("]") else None
            if name not in CATEGORIES:
                errors.append(f"{path}:{n}: unknown category {line!r} (one of {', '.join(CATEGORIES)})")
                section = None
                continue
            section = name
            continue
        domain = line.lower().rstrip(".")
        if section is None:
            errors.append(f"{path}:{n}: {line!r} is not under a [category]")
        elif not _DOMAIN.fullmatch(domain):
            errors.append(f"{path}:{n}: {line!r} is not a domain name")
        elif domain in domains and domains[domain] != section:
            errors.append(f"{path}:{n}: {domain} is already in [{domains[domain]}] (line {where[domain]})")
        else:
            domains[domain], where[domain] = section, n
    if errors:
        raise CategoriesError("\n".join(errors))
    return Categories(domains, path)


def load(path: str | None = None) -> Categories:
    """The list at `path`, or the shipped one."""
    p = Path(path) if path else BUILTIN
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CategoriesError(f"{p}: cannot read: {e}") from None
    return parse(text, str(p))


def sets(category: str) -> tuple[str, str]:
    """The kernel's address sets of a category (IPv4, IPv6)."""
    return f"c4_{category}", f"c6_{category}"


ANY_SETS = ("c4_any", "c6_any")  # every categorised address, whatever its category


def by_category_sets(category: str) -> list[tuple[str, str]]:
    """(family, set) pairs an address of `category` goes into: its own sets and the union sets, so
    traffic to no category costs the kernel one lookup (dnsmasq's nftset and the snooper alike)."""
    four, six = sets(category)
    return [("4", four), ("4", ANY_SETS[0]), ("6", six), ("6", ANY_SETS[1])]
