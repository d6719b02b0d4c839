"""Delivery channels for notifications to the owner: webhook, email, SMS.

Each channel has a `name` and `send(message, delivery_id=None) -> str`: a short receipt ("HTTP 200",
"250 OK") on success, `DeliveryError` with a one-line reason on any failure, so the outbox can record
it and retry. Standard library only: the router has nothing else. No channel follows proxies or
redirects, and every network operation has a timeout, so a dead receiver costs a bounded wait.

A signed webhook (`alert_webhook_secret`) carries X-Hotspot-Timestamp (unix seconds of this attempt),
X-Hotspot-Delivery (the delivery's id) and X-Hotspot-Signature, `sha256=` and the hex HMAC-SHA256 of
`<timestamp>.<delivery id>.<body>`: a receiver that checks the signature, refuses an old timestamp and
drops an id it has seen cannot be fed a captured request again (docs/plan.md has its five lines). After
a crash between a send and its record the outbox sends again with the same id and a new timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import socket
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from hotspot.alerts.message import Message

if TYPE_CHECKING:
    import smtplib
    import ssl
    from email.message import EmailMessage

USER_AGENT = "hotspot"
SECURITY = ("starttls", "tls", "none")


class DeliveryError(Exception):
    """A notification could not be delivered; str() is one line, without secrets."""


def _one_line(text, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ssl, http.client, smtplib and email are imported where a message goes out, not when hotspotd starts:
# together about 8 MB of a router's RAM that a hotspot without alerts never needs.


def _network_error(e: BaseException, where: str, timeout: float) -> DeliveryError:
    """One line for what the socket layer says, naming the server, never the request's secrets."""
    import ssl

    if isinstance(e, ssl.SSLCertVerificationError):
        return DeliveryError(f"TLS certificate of {where} not trusted: {e.verify_message or e.reason}")
    if isinstance(e, ssl.SSLError):
        return DeliveryError(f"TLS failed with {where}: {e.reason or e}")
    if isinstance(e, (socket.timeout, TimeoutError)):
        return DeliveryError(f"no answer from {where} within {timeout:g} s")
    if isinstance(e, ConnectionRefusedError):
        return DeliveryError(f"connection refused by {where}")
    if isinstance(e, socket.gaierror):
        return DeliveryError(f"cannot resolve {where}: {e.strerror or e}")
    if isinstance(e, OSError):
        return DeliveryError(f"{where}: {e.strerror or _one_line(e)}")
    return DeliveryError(f"{where}: {type(e).__name__}: {_one_line(e)}")


def _tls_context(cafile: str | None) -> ssl.SSLContext:
    """Verifies the server's certificate and name: against `cafile` if given, else the system's CAs."""
    import ssl

    return ssl.create_default_context(cafile=cafile)


# -- webhook ------------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, delivery_id: str, body: bytes) -> str:
    """The X-Hotspot-Signature value: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<delivery id>.<body>")>`,
    so neither the time nor the id of a captured request can be changed to send it again."""
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class WebhookChannel:
    """POST the message as JSON: {"subject", "text", **message.data} (images and html stay out)."""

    name = "webhook"

    def __init__(self, url: str, secret: str | None = None, timeout: float = 10,
                 cafile: str | None = None) -> None:
        self.url = check_url(url)
        self.secret = secret or None
        self.timeout = timeout
        self.cafile = cafile
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # Errors name the server only: a webhook URL's path often carries its token.
        self.where = f"{self._host}:{self._port}" if ":" not in self._host else f"[{self._host}]:{self._port}"

    def __repr__(self) -> str:
        return f"WebhookChannel({self.where})"

    def body(self, message: Message) -> bytes:
        doc = {"subject": message.subject, "text": message.text, **message.data}
        return json.dumps(doc, ensure_ascii=False, default=str).encode()

    def send(self, message: Message, delivery_id: str | None = None) -> str:
        import http.client

        body = self.body(message)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "Content-Length": str(len(body))}
        if self.secret and delivery_id is None:
            delivery_id = f"adhoc-{secrets.token_hex(8)}"  # a signature names its delivery
        if delivery_id is not None:
            headers["X-Hotspot-Delivery"] = str(delivery_id)
        if self.secret:
            timestamp = int(time.time())
            headers["X-Hotspot-Timestamp"] = str(timestamp)
            headers["X-Hotspot-Signature"] = signature(self.secret, timestamp, str(delivery_id), body)
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                               context=_tls_context(self.cafile))
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request("POST", self._target, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read(65536)  # the receiver's answer is not ours to keep, only its status
        except http.client.HTTPException as e:
            reason = f"{type(e).__name__} {_one_line(e)}".strip()
            raise DeliveryError(f"bad HTTP answer from {self.where}: {reason}") from None
        except OSError as e:
            raise _network_error(e, self.where, self.timeout) from None
        finally:
            conn.close()
        status = f"HTTP {resp.status}"
        if resp.status >= 300:
            reason = _one_line(resp.reason, 80)
            hint = " (redirects are not followed: give the final URL)" if resp.status < 400 else ""
            raise DeliveryError(f"{self.where} answered {status} {reason}{hint}".rstrip())
        return status


# -- email --------------------------------------------------------------------------------------


class EmailChannel:
    """SMTP submission of a MIME message: text, and HTML with its inline images when there is HTML.

    security: "starttls" (port 587: upgrade or refuse, never fall back to plain text), "tls" (port 465,
    TLS from the first byte) or "none" (a relay on the LAN; then no password is sent at all).
    """

    name = "email"

    def __init__(self, host: str, *, sender: str, recipients, port: int = 587, security: str = "starttls",
                 user: str | None = None, password: str | None = None, timeout: float = 20,
                 cafile: str | None = None) -> None:
        if security not in SECURITY:
            raise ValueError(f"email security must be one of {', '.join(SECURITY)}, not {security!r}")
        if security == "none" and user:
            raise ValueError("email security 'none' cannot log in: a password is never sent in plain text")
        self.host = host
        self.port = int(port)
        self.security = security
        self.user = user or None
        self._password = password or ""
        self.sender = check_email(sender)
        self.recipients = [check_email(r) for r in recipients]
        if not self.recipients:
            raise ValueError("email needs at least one recipient")
        self.timeout = timeout
        self.cafile = cafile
        self.where = f"{host}:{self.port}"

    def __repr__(self) -> str:  # never the password
        return f"EmailChannel({self.where}, {self.security}, user={self.user!r})"

    def build(self, message: Message, delivery_id: str | None = None) -> EmailMessage:
        """multipart/alternative: text, then (with html) multipart/related: html + inline PNGs."""
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid

        msg = EmailMessage()
        msg["Subject"] = message.subject
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(localtime=True)
        domain = self.sender.rpartition("@")[2]
        # The same delivery keeps its Message-ID when resent, so mail clients can drop the copy.
        msg["Message-ID"] = (f"<hotspot.{delivery_id}@{domain}>" if delivery_id
                             else make_msgid("hotspot", domain=domain))  # never getfqdn(): DNS may hang
        msg.set_content(message.text)
        if message.html:
            msg.add_alternative(message.html, subtype="html")
            html = msg.get_payload()[1]
            for cid, png in message.images:
                html.add_related(png, "image", "png", cid=f"<{cid}>", disposition="inline",
                                 filename=f"{cid}.png")
            for part in list(msg.walk())[1:]:
                del part["MIME-Version"]  # the email package adds it to parts; it belongs on the top only
        return msg

    def send(self, message: Message, delivery_id: str | None = None) -> str:
        import smtplib

        msg = self.build(message, delivery_id)
        data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
        local = socket.gethostname() or "hotspot"
        try:
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(self.host, self.port, local_hostname=local, timeout=self.timeout,
                                        context=_tls_context(self.cafile))
            else:
                smtp = smtplib.SMTP(self.host, self.port, local_hostname=local, timeout=self.timeout)
            with smtp:
                return self._submit(smtp, data)
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryError(f"{self.where} refused the login of {self.user!r}: "
                                f"{e.smtp_code} {_reply(e.smtp_error)}") from None
        except smtplib.SMTPResponseException as e:
            raise DeliveryError(f"{self.where} answered {e.smtp_code} {_reply(e.smtp_error)}") from None
        except smtplib.SMTPServerDisconnected as e:
            if isinstance(e.__context__, OSError):  # smtplib's name for a timeout or a reset
                raise _network_error(e.__context__, self.where, self.timeout) from None
            reason = _one_line(e) or "no reason given"
            raise DeliveryError(f"{self.where} closed the connection: {reason}") from None
        except smtplib.SMTPException as e:
            raise DeliveryError(f"{self.where}: {_one_line(e)}") from None
        except OSError as e:
            raise _network_error(e, self.where, self.timeout) from None

    def _submit(self, smtp: smtplib.SMTP, data: bytes) -> str:
        smtp.ehlo()
        if self.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise DeliveryError(f"{self.where} does not offer STARTTLS; not sending in plain text")
            smtp.starttls(context=_tls_context(self.cafile))
            smtp.ehlo()
        if self.user:
            if not smtp.has_extn("auth"):
                raise DeliveryError(f"{self.where} offers no login (AUTH) to {self.user!r}")
            smtp.login(self.user, self._password)
        code, reply = smtp.mail(self.sender)
        if code != 250:
            raise DeliveryError(f"{self.where} refused sender {self.sender}: {code} {_reply(reply)}")
        refused = []
        for rcpt in self.recipients:
            code, reply = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused.append(f"{rcpt} ({code} {_reply(reply)})")
        if len(refused) == len(self.recipients):
            raise DeliveryError(f"{self.where} refused every recipient: {'; '.join(refused)}")
        code, reply = smtp.data(data)
        if code != 250:
            raise DeliveryError(f"{self.where} refused the message: {code} {_reply(reply)}")
        # Some recipients refused, others took it: not retried (the others would get it twice).
        extra = f"; refused {', '.join(refused)}" if refused else ""
        return _one_line(f"{code} {_reply(reply)}{extra}")


def _reply(reply) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return _one_line(reply, 120)


# -- SMS ----------------------------------------------------------------------------------------


class SmsChannel:
    """The message's subject, then its text on the next line, to each number through the modem's
    send_sms: one SMS when it fits, else up to four labelled parts sent in order
    (hotspot.uplink.sms.split: GSM 7-bit or UCS-2, so Chinese arrives as written). On a phone's lock
    screen the subject says what happened."""

    name = "sms"

    def __init__(self, send_sms, numbers, max_parts: int | None = None) -> None:
        from hotspot.uplink import sms

        self.send_sms = send_sms
        self.numbers = [check_phone(n) for n in numbers]
        if not self.numbers:
            raise ValueError("sms needs at least one number")
        self.max_parts = max_parts or sms.MAX_PARTS

    def __repr__(self) -> str:
        return f"SmsChannel({', '.join(self.numbers)})"

    def parts(self, message: Message) -> list[str]:
        from hotspot.uplink import sms

        subject = message.subject.removeprefix("hotspot: ")
        return sms.split(f"{subject}\n{message.text}" if subject else message.text, self.max_parts)

    def send(self, message: Message, delivery_id: str | None = None) -> str:
        parts = self.parts(message)
        failed = []
        for number in self.numbers:
            try:
                for part in parts:
                    self.send_sms(number, part)
            except Exception as e:  # the modem's failure, whatever its type, is this number's reason
                failed.append(f"{number}: {_one_line(e, 100) or type(e).__name__}")
        if len(failed) == len(self.numbers):
            raise DeliveryError(f"SMS not sent: {'; '.join(failed)}")
        # A partial success is not retried: the numbers that got it would get it again.
        sent = len(self.numbers) - len(failed)
        count = f" in {len(parts)} parts" if len(parts) > 1 else ""
        return _one_line("; ".join([f"sent to {sent} of {len(self.numbers)}{count}", *failed]))


# -- validation (for the config parser) ---------------------------------------------------------

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")


def _hostname_ok(host: str) -> bool:
    return len(host) <= 253 and all(_LABEL.match(label) for label in host.split("."))


def check_url(text: str) -> str:
    """An http(s) URL with a host and no credentials; returns it with scheme and host in lower case."""
    url = str(text).strip()
    if not url:
        raise ValueError("empty URL")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ValueError(f"URL must not contain spaces or control characters: {url!r}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"URL must start with http:// or https://: {url!r}")
    if "@" in parts.netloc:
        raise ValueError("URL must not carry a user or password (use the webhook secret instead)")
    host = parts.hostname
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"URL has a bad port: {url!r}") from None
    if ":" not in host and not _hostname_ok(host):
        raise ValueError(f"URL has a bad host name: {host!r}")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def check_email(text: str) -> str:
    """A bare ASCII address, user@domain; returns it with the domain in lower case."""
    addr = str(text).strip()
    if "<" in addr or ">" in addr or " " in addr:
        raise ValueError(f"give a bare email address like owner@example.com, not {addr!r}")
    local, at, domain = addr.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not an email address (user@domain): {addr!r}")
    if not addr.isascii():
        raise ValueError(f"email address must be ASCII (write an international domain as xn--...): {addr!r}")
    if len(local) > 64 or not _LOCAL.match(local):
        raise ValueError(f"bad user part in email address {addr!r}")
    domain = domain.lower()
    if not _hostname_ok(domain):
        raise ValueError(f"bad domain in email address {addr!r}")
    return f"{local}@{domain}"


def check_phone(text: str) -> str:
    """An international number, E.164 (+491701234567); spaces, dashes, dots, brackets and a leading 00
    are accepted and removed."""
    raw = str(text).strip()
    number = re.sub(r"[\s().-]", "", raw)
    if number.startswith("00"):
        number = "+" + number[2:]
    if not number.startswith("+"):
        raise ValueError(f"give the phone number in international form with its country code, like "
                         f"+491701234567, not {raw!r}")
    digits = number[1:]
    if not digits.isdigit() or not digits.isascii():
        raise ValueError(f"phone number may hold only digits after the +: {raw!r}")
    if digits[0] == "0" or not 7 <= len(digits) <= 15:
        raise ValueError(f"not an E.164 phone number (+, country code, 7 to 15 digits): {raw!r}")
    return number
