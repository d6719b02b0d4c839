"""The options of alerts and reports: the points that raise an alert, the channels that carry it (a
webhook, email through an SMTP server, SMS through the modem) and the usage report."""

from __future__ import annotations

from collections.abc import Iterator

from hotspot.alerts.channels import check_email, check_phone, check_url
from hotspot.alerts.language import LANGUAGES
from hotspot.core.config import (
    N_,
    Bad,
    Field,
    Given,
    Option,
    boolean,
    choice,
    hostname,
    ranged,
    secret,
)
from hotspot.core.units import quote

HEADING = "Alerts and reports to the owner"


def percents(v: str) -> tuple[int, ...]:
    """Percentages from 1 to 100 ('80 95 100', '90%, 100%'), sorted, each once; 'none' for none."""
    if v.strip().lower() == "none":
        return ()
    found = []
    for word in v.replace(",", " ").split():
        n = word[:-1] if word.endswith("%") else word
        if not n.isdigit() or not 1 <= int(n) <= 100:
            raise Bad(f"{quote(word)} is not a percentage between 1 and 100")
        found.append(int(n))
    return tuple(sorted(set(found)))


EDITIONS = ("daily", "weekly", "monthly")


def editions(v: str) -> tuple[str, ...]:
    """The report editions, in their order ('weekly monthly'); 'none' or '' for none; daily or weekly, not
    both (a daily report already covers the week)."""
    words = v.replace(",", " ").lower().split()
    if words in ([], ["none"]):
        return ()
    for word in words:
        if word not in EDITIONS:
            raise Bad(f"{quote(word)} is not a report: none, daily, weekly or monthly")
    if "daily" in words and "weekly" in words:
        raise Bad("choose daily or weekly, not both (add monthly to either)")
    return tuple(e for e in EDITIONS if e in words)


def language(v: str) -> str:
    """'en' or 'zh-Hans'; '' (an empty field) is the default, English."""
    if v == "":
        return "en"
    if v not in LANGUAGES:
        raise Bad(f"{quote(v)} is not a language: en or zh-Hans")
    return v


def report_text(v: str) -> str:
    """The report option's value as one text, its editions in order ('weekly monthly', 'none'), so a
    config that says 'daily' still reads 'daily'."""
    return " ".join(editions(v)) or "none"


def _checked(check, v: str) -> str:
    try:
        return check(v)
    except ValueError as e:
        raise Bad(str(e)) from None


def url(v: str) -> str | None:
    return None if v == "" else _checked(check_url, v)


def email(v: str) -> str:
    return _checked(check_email, v)


def email_or_none(v: str) -> str | None:
    return None if v == "" else email(v)


def phone(v: str) -> str:
    return _checked(check_phone, v)


OPTIONS = (
    Option("alert_at", percents, (80, 95, 100), "Percentages of a cap or of the plan that raise an alert.",
           "Percentages of a client's cap and of the plan that raise an alert, each once per period: a "
           "banner on the client's page, and a message to the owner.", heading=HEADING,
           spell=lambda points: " ".join(map(str, points)),
           admin=Field(N_("Alert at"), "plan-guard", placeholder="80 95 100",
                       hint=N_("Percentages of the plan and of each device's cap, e.g. 80 95 100."))),
    Option("alert_clients", boolean, True, "Also tell the owner when a client reaches its cap's points.",
           "Also tell the owner when a client reaches the points of its own cap ('1' or '0').",
           heading=HEADING),
    Option("alert_webhook", url, None, "A URL that gets each alert as a JSON POST.",
           "A URL that gets each alert as a JSON POST; with a secret, each POST carries X-Hotspot-Timestamp, "
           "X-Hotspot-Delivery and X-Hotspot-Signature: sha256=<HMAC-SHA256 of '<timestamp>.<delivery "
           "id>.<body>'> (hotspot's docs/plan.md shows a receiver's check).", heading=HEADING),
    Option("alert_webhook_secret", secret, None,
           "Signs each POST with its time and delivery id (docs/plan.md).", heading=HEADING, joined=True),
    Option("alert_email", email, (), "The owner's addresses, for alerts and reports.",
           "The owner's email addresses, for alerts and reports, and the SMTP server that sends them: "
           "smtp_security 'starttls' (port 587), 'tls' (port 465) or 'none'; the server's certificate is "
           "checked. smtp_from defaults to hotspot@<smtp_host>.", list=True, heading=HEADING,
           example="owner@example.com"),
    Option("smtp_host", hostname, None, "The SMTP server that sends the owner's email.", heading=HEADING,
           joined=True),
    Option("smtp_port", ranged(1, 65535, "a port number between 1 and 65535"), 587, "The SMTP server's port.",
           heading=HEADING, joined=True),
    Option("smtp_security", choice("starttls", "tls", "none"), "starttls",
           "How the SMTP connection is secured: starttls, tls or none.", heading=HEADING, joined=True),
    Option("smtp_user", secret, None, "The SMTP login's user; none: no login.", heading=HEADING, joined=True),
    Option("smtp_password", secret, None, "The SMTP login's password.", heading=HEADING, joined=True),
    Option("smtp_from", email_or_none, None, "The sender's address; none: hotspot@<smtp_host>.",
           heading=HEADING, joined=True),
    Option("alert_sms", phone, (), "Phone numbers (E.164) texted through the modem.",
           "Phone numbers (E.164, e.g. '+491701234567') that get alerts by SMS through the modem.",
           list=True, heading=HEADING, example="+491701234567"),
    Option("owner_language", language, "en",
           "The language of alerts, SMS and reports: en (English) or zh-Hans (Simplified Chinese).",
           "The language alerts (webhook, email, SMS) and usage reports are written in: 'en' (English) or "
           "'zh-Hans' (Simplified Chinese), from the web UI's own translations.", heading=HEADING,
           admin=Field(N_("Language of alerts and reports"), "settings",
                       choices=(("en", N_("English")), ("zh-Hans", N_("Simplified Chinese"))),
                       hint=N_("Alerts by email, webhook and SMS, and the usage reports."))),
    Option("report", report_text, "none", "Usage reports by email: none, daily or weekly, and/or monthly.",
           "Usage reports by email: 'none', 'daily' or 'weekly' (on Mondays), and 'monthly' (at the end of "
           "each plan cycle, or of each calendar month without a plan cycle), e.g. 'weekly monthly'; each "
           "at report_hour local time. Each report lists the apps and the ghost traffic of its range.",
           heading=HEADING),
    Option("report_hour", ranged(0, 23, "an hour between 0 and 23"), 8,
           "The hour (local time) the report goes out.",
           heading=HEADING, joined=True),
)


def no_password_in_plain_text(c: Given) -> Iterator[tuple[str, str]]:
    if c["smtp_security"] == "none" and c["smtp_user"] and not c.refused("smtp_security"):
        yield "smtp_user", ("smtp_security 'none' sends no password (it would go in plain text): use "
                            "'starttls' or 'tls', or set smtp_user ''")


CHECKS = (no_password_in_plain_text,)
