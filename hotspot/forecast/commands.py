"""hotspotctl forecast: the forecaster on an hourly trace (a backtest; no daemon, no config)."""

from __future__ import annotations

import argparse
import json

from hotspot.core.command import Command, ExitStatus, fail
from hotspot.core.text import printable
from hotspot.core.units import InvalidValue, format_bytes, parse_size

HELP = """\
Forecast a period's bytes, and when a cap is reached, from an hourly trace, with the same forecaster
hotspotd uses for each client and the plan, from ONLY the hours before --at. Prints period_end_bytes
(the likely total for the whole period), low and high (an 80 % range), cap_hit_at (ISO 8601, or null).

The trace: CSV lines 'hour,bytes', the hour in ISO 8601 (no UTC offset: UTC), the bytes used in that
hour; a header line is optional, blank lines and '#' comments are skipped, a repeated hour adds up.
The period: --at is the forecast's moment (inside an hour: that hour's start; only hours that ended
by then are read). --period-end defaults to the start of the calendar month after --at, in --at's UTC
offset (UTC if it has none); --period-start to one calendar month before the end (the same day, or
the shorter month's last day). Used so far: the trace's hours in [start, at); hours missing after the
trace's first line count as 0, hours before it as unknown (a new device).
Exit status: 0 ok, 1 the trace cannot be read, 2 a bad argument or trace line (FILE:LINE: reason)."""


def _args(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--trace", required=True, metavar="FILE", help="CSV: hour,bytes (hour in ISO 8601)")
    p.add_argument("--at", required=True, metavar="TIME", help="the forecast's moment (ISO 8601)")
    p.add_argument("--period-end", metavar="TIME", help="default: the next calendar month's start")
    p.add_argument("--period-start", metavar="TIME", help="default: one calendar month before the end")
    p.add_argument("--cap", metavar="SIZE", help="when is it reached, e.g. 20GB or 15GiB")
    p.add_argument("--json", dest="json_here", action="store_true", help="print JSON only")


def _forecast(_house, ns, _v, env):
    from hotspot.forecast import trace

    try:
        at = trace.parse_time(ns.at, what="--at")
        tz = at.tzinfo
        end = trace.parse_time(ns.period_end, tz, "--period-end") if ns.period_end else None
        start = trace.parse_time(ns.period_start, tz, "--period-start") if ns.period_start else None
        cap = parse_size(ns.cap) if ns.cap is not None else None
        start, end = trace.period(at, end, start)
        rows = trace.read(ns.trace)
    except trace.TraceUnreadable as e:
        return fail(env, printable(e), ExitStatus.ERROR)
    except (trace.TraceError, InvalidValue) as e:
        return fail(env, printable(e), ExitStatus.USAGE)
    out = trace.as_output(trace.run(rows, at, start, end, cap), tz, start, end, at)
    if ns.json or ns.json_here:
        print(json.dumps(out), file=env.stdout)
        return ExitStatus.OK
    lines = [f"period:            {out['period_start']} – {out['period_end']} (at {out['at']})",
             f"period_end_bytes:  {out['period_end_bytes']} ({format_bytes(out['period_end_bytes'])})",
             f"low:               {out['low']} ({format_bytes(out['low'])})",
             f"high:              {out['high']} ({format_bytes(out['high'])})",
             f"cap_hit_at:        {out['cap_hit_at'] or 'null'}"]
    if cap is not None:
        lines.append(f"cap_hit_range:     {out['cap_hit_earliest'] or 'null'} – "
                     f"{out['cap_hit_latest'] or 'null'}")
    lines.append(f"history:           {out['history_days']:g} days ({out['basis']} profile)")
    print("\n".join(lines), file=env.stdout)
    return ExitStatus.OK


COMMANDS = [Command("forecast", "forecast a period from an hourly trace (a backtest; no daemon)", _forecast,
                    _args, house=False, description=HELP)]
