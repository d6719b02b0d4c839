"""The options of the carrier's own figure: when to ask it by USSD, which SMS senders are the carrier, the
patterns that read its words per SIM, and how far one reading may move the plan's figure."""

from __future__ import annotations

import re

from hotspot.carrier.model import PatternError, UssdCode, parse_pattern, parse_ussd
from hotspot.core.config import Bad, Option, duration_or_none, duration_text, size, size_text

HEADING = "The carrier's own figure (USSD and SMS)"


def pattern(v: str):
    try:
        return parse_pattern(v)
    except PatternError as e:
        raise Bad(str(e)) from None


def ussd(v: str) -> UssdCode:
    try:
        return parse_ussd(v)
    except PatternError as e:
        raise Bad(str(e)) from None


def sender(v: str) -> str:
    """An SMS sender as the network names it: a number ('+8613800138000'), a short code ('10086') or a
    name ('Vodafone')."""
    if not re.fullmatch(r"[A-Za-z0-9+._-]{1,20}", v, re.ASCII):
        raise Bad(f"{v!r} is not an SMS sender: a number, a short code such as 10086, or a name such as "
                  "Vodafone (letters, digits, '+', '.', '_' or '-'; at most 20)")
    return v


OPTIONS = (
    Option("carrier_query_interval", duration_or_none("never"), None,
           "How often to ask the carrier its figure by USSD; none: only on demand.",
           "How often hotspotd asks the carrier for its figure of this cycle's data, by the USSD code of "
           "carrier_ussd (e.g. '6h'); 'none' asks only when the owner runs 'hotspotctl plan query'. Each "
           "answer goes through carrier_pattern: a reading of the amount used (or left) sets the active "
           "plan's used figure to the carrier's, adding what was counted since.", heading=HEADING,
           spell=duration_text),
    Option("carrier_ussd", ussd, (), "Per SIM: the USSD code that asks the carrier ('ICCID_PREFIX CODE').",
           "Per SIM, the USSD code the carrier answers with its figure: 'ICCID_PREFIX CODE', the longest "
           "prefix of the SIM's ICCID wins ('*' for any SIM; `hotspotctl status` shows the ICCID). "
           "Examples: '8901260 #932#' (T-Mobile US), '8944 *100#' (many UK carriers' balance). One line "
           "per SIM.", list=True, heading=HEADING, spell=str, example="8944 *100#"),
    Option("carrier_sms_from", sender, (), "The SMS senders that are the carrier (e.g. 10086).",
           "The senders whose SMS are the carrier's usage messages, as the network names them (a short "
           "code such as 10086, a number, or a name such as Vodafone); an SMS from anyone else is never "
           "read for a figure. hotspotd looks at the modem's received messages every few seconds and "
           "leaves them in place. One line per sender.", list=True, heading=HEADING, example="10086"),
    Option("carrier_pattern", pattern, (),
           "Per SIM: where the amount is in the carrier's words ('ICCID_PREFIX used|left REGEX').",
           "Per SIM, where the amount is in a USSD reply or SMS: 'ICCID_PREFIX KIND REGEX'. The longest "
           "prefix of the SIM's ICCID wins ('*' for any SIM) and its patterns are tried in order; KIND is "
           "'used' or 'left' (left: the plan's quota minus it), with ':1024' where the carrier's GB is 1024 "
           "MB; REGEX is a Python regular expression (case-insensitive) whose group named amount holds a "
           "number and its unit ('3.2GB', '3,2 GB', '512MB', '1.8G'). Full-width characters read as ASCII "
           "ones (\uff0c as ','). Examples:\n"
           "China Mobile (SMS from 10086): '898600 used:1024 已使用(?P<amount>[\\d.]+ ?[GMK]B)'\n"
           "China Unicom (SMS from 10010): '898601 used:1024 已用(?P<amount>[\\d.]+ ?[GMK]B)'\n"
           "T-Mobile US (#932#): '8901260 used have used (?P<amount>[\\d.,]+ ?[GMK]B) of'\n"
           "Any SIM, left: '* left (?P<amount>[\\d.,]+ ?[GMK]B) (left|remaining)'\n"
           "See docs/carrier.md for how to write one. One line per pattern.", list=True, heading=HEADING,
           spell=str, example="898600 used:1024 已使用(?P<amount>[\\d.]+ ?[GMK]B)"),
    Option("carrier_max_jump", size, 2_000_000_000,
           "A reading that would move the plan's figure by more than this changes nothing.",
           "A carrier reading that would move the plan's used figure by more than this, up or down, "
           "changes nothing and is logged with its text (a misread, a reply about another plan); set the "
           "figure with 'hotspotctl plan set-used' then.", heading=HEADING, spell=size_text),
)
