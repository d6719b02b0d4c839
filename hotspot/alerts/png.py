"""A tiny PNG bar-chart renderer in pure Python (zlib + struct), for the charts in emails.

Why not SVG: Gmail and Outlook do not show inline SVG, and the router has neither PIL nor matplotlib.
Charts are filled rectangles and lines only; every label stays in the email's HTML, so no font is needed.
Images are indexed-colour (one byte a pixel, a palette of at most 256 colours): a chart is mostly runs of
a few flat colours, which zlib squeezes to a few kB. Rounded corners are anti-aliased by blending into
extra palette entries, so bars stay crisp at the 2x pixel density the report draws them at.
"""

from __future__ import annotations

import struct
import zlib

Colour = tuple[int, int, int]

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rgb(hex_colour: str) -> Colour:
    """'#0f766e' -> (15, 118, 110): the report takes its colours from portal.css as written there."""
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    if len(h) != 6:
        raise ValueError(f"not a colour: {hex_colour!r}")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _share(x: int, y: int, xa: int, xb: int, ya: int, yb: int, r: float, rounded: frozenset) -> float:
    """How much of pixel (x, y) lies inside a rectangle whose `rounded` corners have radius r: 4x4 samples."""
    inside = 0
    for i in range(4):
        for j in range(4):
            sx, sy = x + (i + 0.5) / 4, y + (j + 0.5) / 4
            side = ("t" if sy < ya + r else "b" if sy > yb - r else "") + (
                "l" if sx < xa + r else "r" if sx > xb - r else "")
            if len(side) < 2 or side not in rounded:
                inside += 1
                continue
            cx = xa + r if side[1] == "l" else xb - r
            cy = ya + r if side[0] == "t" else yb - r
            inside += (sx - cx) ** 2 + (sy - cy) ** 2 <= r * r
    return inside / 16


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


class Canvas:
    """A width x height image of palette indices, with the few drawing operations charts need."""

    def __init__(self, width: int, height: int, background: str = "#ffffff") -> None:
        if not (0 < width <= 10000 and 0 < height <= 10000):
            raise ValueError(f"bad image size {width}x{height}")
        self.width, self.height = width, height
        self.palette: list[Colour] = [rgb(background)]
        self._index: dict[Colour, int] = {self.palette[0]: 0}
        self.rows = [bytearray(width) for _ in range(height)]

    def ink(self, colour: Colour) -> int:
        """The palette index of `colour`, added if new; once 256 are taken, the nearest one."""
        i = self._index.get(colour)
        if i is not None:
            return i
        if len(self.palette) < 256:
            self.palette.append(colour)
            self._index[colour] = len(self.palette) - 1
            return len(self.palette) - 1
        return min(range(256), key=lambda k: sum((a - b) ** 2 for a, b in zip(self.palette[k], colour)))

    def pixel(self, x: int, y: int) -> Colour:
        return self.palette[self.rows[y][x]]

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour: str | Colour, radius: float = 0,
             corners: str = "tl tr br bl") -> None:
        """Fill [x0, x1) x [y0, y1), clipped to the image. Edges are rounded to whole pixels (crisp);
        `radius` rounds the `corners` named (tl tr br bl), their edge pixels blended with what is under."""
        c = rgb(colour) if isinstance(colour, str) else colour
        xa, xb = max(0, round(x0)), min(self.width, round(x1))
        ya, yb = max(0, round(y0)), min(self.height, round(y1))
        if xa >= xb or ya >= yb:
            return
        rounded = frozenset(corners.split()) if radius > 0 else frozenset()
        # two curves side by side share the width (or height); a lone one may take all of it
        across = 2 if {"tl", "bl"} & rounded and {"tr", "br"} & rounded else 1
        down = 2 if {"tl", "tr"} & rounded and {"bl", "br"} & rounded else 1
        r = min(float(radius), (xb - xa) / across, (yb - ya) / down) if rounded else 0.0
        ink = self.ink(c)
        solid = bytes([ink]) * (xb - xa)
        edge = int(r + 0.999)  # pixels a curved corner can touch, from each side
        for y in range(ya, yb):
            row = self.rows[y]
            if r <= 0 or ya + edge <= y < yb - edge:
                row[xa:xb] = solid
                continue
            row[xa + edge:xb - edge] = solid[: max(0, xb - xa - 2 * edge)]
            for x in list(range(xa, min(xb, xa + edge))) + list(range(max(xa + edge, xb - edge), xb)):
                share = _share(x, y, xa, xb, ya, yb, r, rounded)
                if share >= 1:
                    row[x] = ink
                elif share > 0:
                    under = self.palette[row[x]]
                    row[x] = self.ink(tuple(round(share * f + (1 - share) * b) for f, b in zip(c, under)))

    def hline(self, x0: float, x1: float, y: float, colour: str | Colour, thickness: int = 1) -> None:
        self.rect(x0, y, x1, y + thickness, colour)

    def dashed_hline(self, x0: float, x1: float, y: float, colour: str | Colour, dash: int, gap: int,
                     thickness: int = 1) -> None:
        x = float(x0)
        while x < x1:
            self.rect(x, y, min(x + dash, x1), y + thickness, colour)
            x += dash + gap

    def png(self) -> bytes:
        """The image as PNG bytes: 8-bit palette, filter 0 on every row, zlib at its best level."""
        ihdr = struct.pack(">IIBBBBB", self.width, self.height, 8, 3, 0, 0, 0)
        plte = b"".join(bytes(c) for c in self.palette)
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)
        return (SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"PLTE", plte)
                + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


# -- charts ------------------------------------------------------------------------------------------------
# Sizes are in CSS pixels; `scale` is the pixel density (2: the HTML shows the image at half its size, so it
# stays sharp on phones and high-density screens).


def columns(stacks: list[list[tuple[float, str]] | None], width: int, height: int, *,
            grid: str = "#e3e7ee", guide: tuple[float, str] | None = None, empty: str = "#eef1f5",
            gap: float = 0.28, scale: int = 2, background: str = "#ffffff") -> bytes:
    """A column chart like the admin UI's (portal.js `bars`): one slot per stack, each stack's parts
    (value, colour) piled from the baseline, slightly rounded tops, a grid line at the top (the scale's
    maximum, which the HTML labels) and at the baseline. `guide` (value, colour) adds a dashed line, e.g.
    the plan's even daily pace. A stack of None is a slot still to come: a flat stub. The slots span the
    full width, so an HTML row of equal cells lines up with them."""
    w, h = width * scale, height * scale
    canvas = Canvas(w, h, background)
    line = scale  # one CSS pixel
    most = max([sum(v for v, _ in s) for s in stacks if s] + [guide[0] if guide else 0, 1])
    chart_top, base = line, h - line  # leave room for the grid lines
    ch = base - chart_top
    canvas.hline(0, w, 0, grid, line)
    n = max(1, len(stacks))
    step = w / n
    bw = max(1.0, step * (1 - gap))
    radius = min(2 * scale, bw / 3)
    for i, stack in enumerate(stacks):
        x = i * step + (step - bw) / 2
        if stack is None:
            canvas.rect(x, base - 2 * scale, x + bw, base, empty)
            continue
        y = float(base)
        parts = [(v, c) for v, c in stack if v > 0]
        for k, (value, colour) in enumerate(parts):
            bh = value / most * ch
            last = k == len(parts) - 1
            # rounded where the stack ends; a part too thin to show still gets one pixel
            canvas.rect(x, y - max(bh, 1 if last and bh > 0 else 0), x + bw, y, colour,
                        radius=radius if last else 0, corners="tl tr")
            y -= bh
    canvas.hline(0, w, base, grid, line)
    if guide and guide[0] > 0:
        gy = base - guide[0] / most * ch
        canvas.dashed_hline(0, w, round(gy - line / 2), guide[1], 4 * scale, 3 * scale, line)
    return canvas.png()


def meter(parts: list[tuple[float, str]], whole: float, width: int, height: int, *, track: str = "#e8ecf2",
          scale: int = 2, background: str = "#ffffff") -> bytes:
    """A horizontal pill like the admin UI's usage bar (`_macros.html` bar): the track, then each part
    (value, colour) from the left, as a share of `whole` (more than whole is cut at the end)."""
    w, h = width * scale, height * scale
    canvas = Canvas(w, h, background)
    radius = h / 2
    canvas.rect(0, 0, w, h, track, radius=radius)
    x = 0.0
    whole = max(whole, 1)
    shown = [(v, c) for v, c in parts if v > 0]
    if shown and sum(v for v, _ in shown) / whole * w < h:
        shown = [(h / w * whole, shown[0][1])]  # a sliver is a round dot, in the first part's colour
    for k, (value, colour) in enumerate(shown):
        pw = min(w - x, value / whole * w)
        # the bar's ends are round, the joins between parts square
        ends = ("tl bl " if k == 0 else "") + ("tr br" if k == len(shown) - 1 else "")
        canvas.rect(x, 0, x + pw, h, colour, radius=radius, corners=ends)
        x += pw
        if x >= w:
            break
    return canvas.png()
