"""Dates at the edges, fuzz style: every parser of a date or time a person types (the history's
--from/--to and the portal's, the forecast's --at, the apps' days, the plan's activation) over many
edge strings (years 1, 1969, 1970, 9999, 10000, huge, negative; leap days; offsets up to ±14 h and
past them; DST gaps; garbage) in several time zones, through the pure parsers, the portal (the fake
backend) and the CLI. Only two outcomes are allowed: a valid result in the years the history holds,
or the entry point's own one-line error. Never an OverflowError, a ValueError or a 500."""

from __future__ import annotations

import io
import json
import os
import random
import re
import time
from datetime import date, datetime

import pytest

from hotspot import cli
from hotspot.cli import Environment, ExitStatus
from hotspot.config import ConfigError, load
from hotspot.core.contract import BackendError
from hotspot.core.units import InvalidValue
from hotspot.forecast import trace
from hotspot.history import buckets as hist
from hotspot.history.usage import UsageHistory
from hotspot.portal.history_card import history_card

MAC = "02:00:00:00:00:02"
YEARS = ["0001", "0100", "1969", "1970", "1999", "2000", "2026", "2038", "2100", "2101", "9999", "10000",
         "99999999999999999999", "-2026", "-001", "0000"]
DAYS = ["01-01", "12-31", "02-29", "02-28", "02-30", "13-01", "00-00", "03-29", "03-08", "10-25", "11-01"]
TIMES = ["", "T00:00", "T23:59:59", "T24:00", "T02:30", "T01:30:00.999999", " 12:00"]
OFFSETS = ["", "Z", "+00:00", "+14:00", "-14:00", "+14:01", "-12:00", "+23:59", "+05:45", "+99:00", "-00:30"]
GARBAGE = ["", " ", "now", "tomorrow", "2026", "2026-11", "20261101", "2026-W47-1", "2026-11-01\n",
           "２０２６-11-01", "1e9", "nan", "inf", "-inf", "0", "-1", "1700000000", "9" * 400,
           "2026-11-01T00:00+14:00 extra", "\x00", "2026-11-01; DROP TABLE usage", "2026-11-01T", "T00:00",
           "1969-12-31T23:59:59-14:00", "1970-01-01T00:00:00+14:00", "2100-12-31T23:59:59-14:00",
           "9999-12-31T23:59:59.999999", "0001-01-01T00:00:00+14:00", "2026-02-29", "2024-02-29T02:30",
           "2026-03-29T01:30", "2026-03-08T02:30", "2026-11-01T01:30", "+2026-11-01", "2026-11-01 ",
           " 2026-11-01", "2026-1-1", "2026-11-01T00:00:00+14", "2026-11-01T12:00:00,5", "٢٠٢٦-١١-٠١"]
ZONES = ["UTC", "Europe/London", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago",
         "Asia/Kathmandu", "Australia/Lord_Howe"]
NOW = datetime(2026, 11, 22, 14, 30).timestamp()
MIN_YEAR, MAX_YEAR = 2000, 2100  # the years a date may name (docs/insights.md: Usage history)


def edge_strings() -> list[str]:
    """Every year with every day, a sample of times and offsets on them, the garbage, and strings of
    date-ish characters at random (seeded)."""
    out = [f"{y}-{d}" for y in YEARS for d in DAYS]
    out += [f"{y}-{d}{t}{o}" for y in YEARS for d in ("01-01", "12-31", "02-29", "03-29")
            for t in TIMES[1:] for o in OFFSETS]
    out += GARBAGE
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        for _ in range(200):
            out.append("".join(rng.choice("0123456789-:T+Z. ") for _ in range(rng.randint(1, 30))))
    return list(dict.fromkeys(out))


EDGES = edge_strings()


def sample(n: int, seed: int = 0) -> list[str]:
    """A seeded sample of the edges for the entry points that cost more per call (always with the
    named ones of the issue and the years at both ends)."""
    named = ["0001-01-01", "9999-12-31", "10000-01-01", "1969-12-31", "1970-01-01", "2000-01-01",
             "2100-12-31", "2101-01-01", "1999-12-31T23:59:59-14:00", "2100-12-31T23:59+14:00"]
    return named + random.Random(seed).sample(EDGES, n)


@pytest.fixture(params=ZONES)
def zone(request):
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def one_line(e: Exception) -> str:
    text = str(e)
    assert text and "\n" not in text and len(text) < 300, repr(text)
    return text


def sane(ts: float) -> bool:
    """A unix time within the years the history holds (a day either side for the UTC offset)."""
    return datetime(MIN_YEAR - 1, 12, 31).timestamp() <= ts <= datetime(MAX_YEAR + 1, 1, 2).timestamp()


# -- the pure parsers ------------------------------------------------------------------------------

def test_history_dates_are_valid_or_a_one_line_invalid_value(zone):
    for text in EDGES:
        try:
            when = hist.parse_when(text, "--from")
        except InvalidValue as e:
            one_line(e)
            continue
        assert datetime(MIN_YEAR, 1, 1) <= when <= datetime(MAX_YEAR + 1, 1, 1), text  # the end of the last
    for by in hist.BYS:
        for text in sample(150):
            for since, until in ((text, None), (None, text), ("2026-11-01", text), (text, "2026-12-01")):
                try:
                    s, u = hist.resolve(by, since, until, NOW)
                except InvalidValue as e:
                    one_line(e)
                    continue
                assert sane(s) and sane(u) and s < u, (by, since, until)
                first, end = hist.bucket_range(by, s, u)
                assert hist.start_of(by, first) <= s and hist.start_of(by, end) >= u


def test_history_queries_over_the_store_answer_or_say_why(zone, cfg):
    from hotspot.core.store import Store

    store = Store(":memory:")
    uh = UsageHistory(store, cfg, NOW)
    for by in hist.BYS:
        for text in sample(60, seed=len(by)):
            for since, until in ((text, None), (None, text), (text, text)):
                try:
                    found = uh.query(2, by, since, until)
                except InvalidValue as e:
                    one_line(e)
                    continue
                assert found["rows"] == [] and found["from"] <= found["to"], (by, since, until)
    for bad in (float("inf"), float("nan"), 1e300, -1e300, -62135596800.0, 253402300800.0):
        with pytest.raises(InvalidValue):
            uh.query(2, "month", bad)


def test_trace_times_and_periods_are_valid_or_a_one_line_trace_error(zone):
    for text in EDGES:
        try:
            at = trace.parse_time(text, what="--at")
        except trace.TraceError as e:
            assert one_line(e).startswith("invalid --at")
            continue
        assert at.tzinfo is not None and MIN_YEAR <= at.year <= MAX_YEAR + 1, text
        start, end = trace.period(at)  # the defaults never leave the years either
        out = trace.as_output(trace.run([(int(at.timestamp()) // 3600 * 3600 - 3600, 5)], at, start, end,
                                        10**6), at.tzinfo, start, end, at)
        assert out["period_start"] <= out["at"] or out["period_start"][:4] <= out["at"][:4]
        for other in sample(20, seed=int(at.timestamp()) % 1000):
            try:
                end = trace.parse_time(other, at.tzinfo, "--period-end")
                trace.period(at, end)
                trace.period(at, None, end)
            except trace.TraceError as e:
                one_line(e)


def test_trace_lines_with_edge_hours_are_read_or_named(tmp_path):
    path = tmp_path / "t.csv"
    for text in sample(200, seed=7):
        path.write_text(f"2026-11-01T00,5\n{text.replace(',', ';')},7\n")
        try:
            rows = trace.read(str(path))
        except trace.TraceError as e:
            assert one_line(e).startswith(f"{path}:"), e
            continue
        assert all(sane(h) for h, _b in rows), text


class Card:
    """The history card's fetch over a real (empty) Store, as the fake backend answers it."""

    def __init__(self, cfg) -> None:
        from hotspot.core.store import Store

        self.uh = UsageHistory(Store(":memory:"), cfg, NOW)

    def __call__(self, by, since, until):
        try:
            return self.uh.query(2, by, since, until)
        except InvalidValue as e:
            raise BackendError(str(e)) from None


def test_the_history_card_takes_any_parameters(zone, app, cfg):
    fetch = Card(cfg)
    params = [("from", "to"), ("to", None), ("from", None), ("month", None), ("day", None)]
    with app.test_request_context("/"):
        for text in sample(120, seed=3):
            for key, other in params:
                args = {key: text} if other is None else {key: text, other: "2026-11-20"}
                if key == "month":
                    args = {"month": text[:7]}
                card = history_card(fetch, args, date(2026, 11, 22))
                assert all(one_line(Exception(m)) for m in card["errors"]), args
                assert int(card["first"][:4]) >= MIN_YEAR and int(card["last"][:4]) <= MAX_YEAR, args


# -- through the portal (the fake backend: a real Store and the real queries) ------------------------

ME = "10.0.0.10"


@pytest.mark.parametrize("url", ["/?to=9999-12-31", "/?from=0001-01-01", "/?from=9999-12-30&to=9999-12-31",
                                 "/?month=9999-12", "/?month=0001-01", "/?day=9999-12-31",
                                 "/?from=0001-01-01&lang=zh", "/?to=10000-01-01",
                                 "/?to=2101-01-01"])
def test_the_client_page_names_a_date_out_of_range_in_one_line(client, url):
    r = client.get(url, environ_base={"REMOTE_ADDR": ME})
    assert r.status_code == 200  # the page (the usage above the card) stands; the card says why
    card = r.get_data(as_text=True).split('id="history"')[1]
    errors = re.findall(r'<p class="error" role="alert">([^<]*)</p>', card)
    if "month=" in url or "10000" in url:  # not YYYY-MM(-DD) at all: the format is named
        assert len(errors) == 1, url
    elif "day=" not in url:
        assert len(errors) == 1 and "2000" in errors[0] and "2100" in errors[0], (url, errors)


@pytest.mark.parametrize("query", ["from=0001-01-01", "to=9999-12-31", "by=month&from=0001-01-01",
                                   "by=hour&from=9999-12-31T23:00", "from=10000-01-01",
                                   "from=2026-01-01T00:00%2B14:30", "by=month&to=2101-01-02",
                                   "from=1969-12-31T23:59:59-14:00"])
def test_the_history_api_answers_400_in_one_line(client, query):
    r = client.get(f"/api/me/history?{query}", environ_base={"REMOTE_ADDR": ME})
    assert r.status_code == 400, (query, r.status_code)
    one_line(Exception(r.json["error"]))


def test_the_portal_never_fails_on_an_edge_date(client):
    for text in sample(40, seed=11):
        for url in (f"/?from={text}", f"/?to={text}", f"/api/me/history?from={text}",
                    f"/api/me/history?by=month&to={text}"):
            r = client.get(url, query_string=None, environ_base={"REMOTE_ADDR": ME})
            assert r.status_code in (200, 400), (url, r.status_code)


# -- through the CLI -----------------------------------------------------------------------------

def ctl(*args: str) -> tuple[int, str, str]:
    env = Environment(stdout=io.StringIO(), stderr=io.StringIO())
    return cli.main(list(args), env), env.stdout.getvalue(), env.stderr.getvalue()


def assert_usage_error(got: tuple[int, str, str], what) -> None:
    status, out, err = got
    assert (status, out) == (ExitStatus.USAGE, ""), (what, got)
    assert err.startswith("hotspotctl: ") and err.count("\n") == 1, (what, err)


@pytest.mark.parametrize("args", [
    ("history", MAC, "--from", "0001-01-01"), ("history", MAC, "--to", "9999-12-31"),
    ("history", "plan", "--by", "month", "--from", "1969-12-31"), ("history", MAC, "--to", "10000-01-01"),
    ("history", MAC, "--from", "2101-01-02"), ("apps", "--from", "0001-01-01"),
    ("apps", "--to", "9999-12-31"),
])
def test_cli_history_and_apps_refuse_dates_out_of_range_before_opening_anything(cfg_file, args):
    got = ctl("-c", cfg_file, *args)
    assert_usage_error(got, args)
    if len(args[-1]) == 10:  # a date as written: the error names the years (else the format)
        assert "years 2000 to 2100" in got[2] or "--to must be after --from" in got[2], got[2]


def test_cli_history_answers_or_refuses_every_edge(cfg, cfg_file):
    for text in sample(40, seed=5):
        for flag in ("--from", "--to"):
            status, out, err = ctl("-c", cfg_file, "--json", "history", "plan", "--by", "month", flag, text)
            if status == ExitStatus.OK:
                assert json.loads(out) == []
            else:
                assert_usage_error((status, out, err), (flag, text))


@pytest.mark.parametrize("at", ["10000-01-01", "9999-12-31", "9999-12-31T23:00+14:00", "0001-01-01",
                                "0001-01-01T00:00+05:00", "1969-12-31", "2101-01-02",
                                "2026-11-10T00:00+14:30"])
def test_cli_forecast_refuses_a_time_out_of_range_in_one_line(tmp_path, at):
    path = tmp_path / "t.csv"
    path.write_text("2026-11-01T00,5\n")
    status, out, err = ctl("forecast", "--trace", str(path), "--at", at)
    assert_usage_error((status, out, err), at)
    assert "--at" in err


def test_cli_forecast_answers_or_refuses_every_edge(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("2026-11-01T00,5\n")
    for text in sample(60, seed=9):
        for args in (("--at", text), ("--at", "2026-11-10", "--period-end", text),
                     ("--at", "2026-11-10", "--period-start", text)):
            got = ctl("forecast", "--trace", str(path), "--json", *args)
            if got[0] != ExitStatus.OK:
                assert_usage_error(got, args)
    for line in ("0001-01-01T00", "9999-12-31T23", "10000-01-01T00", "1969-12-31T23:00-14:00"):
        path.write_text(f"2026-11-01T00,5\n{line},5\n")
        assert_usage_error(ctl("forecast", "--trace", str(path), "--at", "2026-11-10"), line)


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31 23:59", "1969-12-31 00:00", "2101-01-01 00:01",
                                   "2026-01-01T00:00+14:30"])
def test_the_config_refuses_a_plan_activation_out_of_range(tmp_path, value):
    path = tmp_path / "hotspot"
    path.write_text(f"config hotspot 'main'\n\toption plan_activated '{value}'\n")
    with pytest.raises(ConfigError) as e:
        load(str(path))
    assert "plan_activated" in str(e.value) and str(e.value).count("\n") == 0
