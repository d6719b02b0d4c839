"""The channels against real servers on 127.0.0.1: an HTTP(S) receiver and aiosmtpd (STARTTLS, AUTH)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from hotspot.alerts.channels import (
    DeliveryError,
    EmailChannel,
    SmsChannel,
    WebhookChannel,
    check_email,
    check_phone,
    check_url,
)
from hotspot.alerts.message import Message

LOOPBACK = "127.0.0.1"
SECRET = "s3cret-for-hmac"
USER, PASSWORD = "owner@example.com", "correct horse battery staple"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4  # bytes only: nothing here decodes the image
MESSAGE = Message(
    subject="流量警报：手机已用 90%",
    text="手机 (aa:bb:cc:dd:ee:01) 已用 1.8 GB，上限 2 GB。\nPhone used 1.8 GB of 2 GB.",
    html='<p>手机已用 <b>1.8 GB</b></p><img src="cid:chart-1">',
    images=(("chart-1", PNG),),
    data={"kind": "cap_warning", "mac": "aa:bb:cc:dd:ee:01", "bytes_total": 1_800_000_000},
)


# -- helpers (test_outbox uses them too) --------------------------------------------------------------


class Receiver:
    """A webhook receiver on 127.0.0.1 in a thread: records every POST; answers with `statuses` in turn,
    then 200; `delay` holds each answer back (a hanging receiver) until the receiver closes."""

    def __init__(self, port: int = 0, statuses=(), delay: float = 0.0, tls: ssl.SSLContext | None = None):
        self.requests: list[SimpleNamespace] = []
        self.statuses = list(statuses)
        self.delay = delay
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(SimpleNamespace(path=self.path, headers=self.headers, body=body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.delay:
                    receiver.release.wait(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}{path}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> tuple[socket.socket, int]:
    """A loopback port bound but not listening (connections are refused) and kept so until closed."""
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    return s, s.getsockname()[1]


def free_port() -> int:
    s, port = closed_port()
    s.close()
    return port


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it (openssl CLI)."""
    d = tmp_path_factory.mktemp("certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=hotspot test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(d / "server.crt", d / "server.key")
    return SimpleNamespace(ca=str(d / "ca.crt"), server=server)


# -- webhook ------------------------------------------------------------------------------------------


def test_webhook_posts_json_with_a_verifiable_signature_and_the_delivery_id(receiver):
    r = receiver()
    ch = WebhookChannel(r.url("/hook?token=abc"), secret=SECRET, timeout=5)
    assert ch.send(MESSAGE, delivery_id="d-42") == "HTTP 200"

    (req,) = r.requests
    assert req.path == "/hook?token=abc"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["User-Agent"] == "hotspot"
    assert req.headers["X-Hotspot-Delivery"] == "d-42"
    doc = json.loads(req.body)
    assert doc == {"subject": MESSAGE.subject, "text": MESSAGE.text, **MESSAGE.data}
    # What a receiver does, as docs/plan.md (Webhooks) tells it:
    assert verify(SECRET, req.headers, req.body, now=time.time(), seen=set())
    assert not verify("wrong", req.headers, req.body, now=time.time(), seen=set())
    assert req.headers["X-Hotspot-Signature"].startswith("sha256=")


def verify(secret: str, headers, body: bytes, *, now: float, seen: set, tolerance: float = 300) -> bool:
    """A receiver's check (docs/plan.md, "Webhooks"): the signature covers the timestamp, the delivery
    id and the body; a timestamp older than `tolerance` or a delivery id seen before is a replay."""
    ts, delivery = headers.get("X-Hotspot-Timestamp", ""), headers.get("X-Hotspot-Delivery", "")
    signed = f"{ts}.{delivery}.".encode() + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("X-Hotspot-Signature", "")):
        return False
    if not ts.isdigit() or abs(now - int(ts)) > tolerance or delivery in seen:
        return False
    seen.add(delivery)
    return True


def test_a_captured_webhook_cannot_be_replayed_later_or_as_another_delivery(receiver):
    r = receiver()
    ch = WebhookChannel(r.url(), secret=SECRET, timeout=5)
    ch.send(MESSAGE, delivery_id="d-1")
    (req,) = r.requests
    sent = int(req.headers["X-Hotspot-Timestamp"])
    assert abs(sent - time.time()) < 5
    seen: set = set()
    assert verify(SECRET, req.headers, req.body, now=sent + 1, seen=seen)
    # the same request again: a delivery id the receiver has seen
    assert not verify(SECRET, req.headers, req.body, now=sent + 2, seen=seen)
    # later, at a receiver that forgot its ids: too old
    assert not verify(SECRET, req.headers, req.body, now=sent + 301, seen=set())
    # with a fresh timestamp or another delivery id: the signature no longer matches
    for header, value in (("X-Hotspot-Timestamp", str(sent + 300)), ("X-Hotspot-Delivery", "d-2")):
        forged = {**dict(req.headers), header: value}
        assert not verify(SECRET, forged, req.body, now=int(forged["X-Hotspot-Timestamp"]), seen=set())
    # nor with another body
    assert not verify(SECRET, req.headers, req.body.replace(b"90", b"10"), now=sent, seen=set())


def test_a_signed_webhook_without_a_delivery_id_gets_one_of_its_own(receiver):
    r = receiver()
    ch = WebhookChannel(r.url(), secret=SECRET, timeout=5)
    ch.send(Message("s", "t"))
    ch.send(Message("s", "t"))
    first, second = r.requests
    assert first.headers["X-Hotspot-Delivery"] != second.headers["X-Hotspot-Delivery"]
    seen: set = set()
    assert all(verify(SECRET, q.headers, q.body, now=time.time(), seen=seen) for q in (first, second))


def test_webhook_without_secret_or_id_sends_neither_header(receiver):
    r = receiver()
    WebhookChannel(r.url()).send(Message("s", "t"))
    (req,) = r.requests
    assert "X-Hotspot-Signature" not in req.headers
    assert "X-Hotspot-Delivery" not in req.headers


def test_webhook_error_status_is_a_delivery_error_naming_the_server_not_the_path(receiver):
    r = receiver(statuses=[500, 302, 404])
    ch = WebhookChannel(r.url("/hook/SECRET-TOKEN"), timeout=5)
    for status in (500, 302, 404):
        with pytest.raises(DeliveryError) as e:
            ch.send(MESSAGE)
        assert f"HTTP {status}" in str(e.value)
        assert "SECRET-TOKEN" not in str(e.value)
        assert f"{LOOPBACK}:{r.port}" in str(e.value)
        assert "\n" not in str(e.value)
    assert ch.send(MESSAGE) == "HTTP 200"


def test_webhook_refused_connection():
    s, port = closed_port()
    try:
        with pytest.raises(DeliveryError, match="connection refused"):
            WebhookChannel(f"http://{LOOPBACK}:{port}/hook", timeout=2).send(MESSAGE)
    finally:
        s.close()


def test_webhook_receiver_that_hangs_times_out(receiver):
    r = receiver(delay=10)
    start = time.monotonic()
    with pytest.raises(DeliveryError, match=r"no answer from .* within 0.3 s"):
        WebhookChannel(r.url(), timeout=0.3).send(MESSAGE)
    assert time.monotonic() - start < 2


def test_webhook_over_https_verifies_the_certificate(receiver, certs):
    r = receiver(tls=certs.server)
    assert WebhookChannel(r.url(), cafile=certs.ca, timeout=5).send(MESSAGE) == "HTTP 200"
    with pytest.raises(DeliveryError, match="certificate .* not trusted"):
        WebhookChannel(r.url(), timeout=5).send(MESSAGE)  # the system's CAs do not know ours
    assert len(r.requests) == 1


# -- email --------------------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler and authenticator: records messages and login attempts."""

    def __init__(self) -> None:
        self.messages: list[SimpleNamespace] = []
        self.logins: list[tuple[str, str]] = []  # (mechanism, user)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(SimpleNamespace(
            mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
            tls=session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None,
            user=session.auth_data.login.decode() if session.authenticated else None,
            parsed=email.message_from_bytes(envelope.original_content, policy=email.policy.default)))
        return "250 OK"

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.logins.append((mechanism, auth_data.login.decode()))
        ok = (auth_data.login.decode(), auth_data.password.decode()) == (USER, PASSWORD)
        return AuthResult(success=ok, handled=False, auth_data=auth_data)  # not handled: aiosmtpd says 535


@pytest.fixture
def smtpd(certs):
    """Start aiosmtpd on 127.0.0.1: smtpd(starttls=True, implicit_tls=False, auth=True) -> (inbox, port)."""
    pytest.importorskip("aiosmtpd", reason="apt-get install python3-aiosmtpd (make setup does)")
    from aiosmtpd.controller import Controller

    running = []

    def start(starttls: bool = True, implicit_tls: bool = False, auth: bool = True):
        inbox = Inbox()
        kw = {}
        if auth:  # LOGIN only: smtplib would pick PLAIN first
            kw.update(authenticator=inbox, auth_required=True, auth_exclude_mechanism=["PLAIN"])
        if starttls:
            kw.update(tls_context=certs.server, require_starttls=True)
        if implicit_tls:
            kw.update(ssl_context=certs.server)
        c = Controller(inbox, hostname=LOOPBACK, port=free_port(), **kw)
        c.start()
        running.append(c)
        return inbox, c.port

    yield start
    for c in running:
        c.stop()


def lines(part) -> str:
    """A text part's content with its line breaks as Python writes them (MIME's canonical form is CRLF)."""
    return part.get_content().replace("\r\n", "\n").rstrip("\n")


def email_channel(port, certs, **kw) -> EmailChannel:
    opts = {"port": port, "sender": "hotspot@example.com",
            "recipients": ["owner@example.com", "b@example.org"], "user": USER, "password": PASSWORD,
            "cafile": certs.ca, "timeout": 5}
    opts.update(kw)
    return EmailChannel(LOOPBACK, **opts)


def test_email_over_starttls_with_login_arrives_whole(smtpd, certs):
    inbox, port = smtpd()
    receipt = email_channel(port, certs).send(MESSAGE, delivery_id="abc123")
    assert receipt.startswith("250")

    assert inbox.logins == [("LOGIN", USER)]  # the server offers only LOGIN here
    (m,) = inbox.messages
    assert m.tls and m.user == USER
    assert m.mail_from == "hotspot@example.com"
    assert m.rcpt_tos == ["owner@example.com", "b@example.org"]
    msg = m.parsed
    assert msg["Subject"] == MESSAGE.subject  # Chinese, intact through RFC 2047
    assert msg["Message-ID"] == "<hotspot.abc123@example.com>"
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    assert msg.get_content_type() == "multipart/alternative"
    text, related = msg.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert lines(text) == MESSAGE.text
    assert related.get_content_type() == "multipart/related"
    html, image = related.iter_parts()
    assert lines(html) == MESSAGE.html
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<chart-1>"
    assert image.get_content() == PNG


def test_email_text_only_is_a_single_part(smtpd, certs):
    inbox, port = smtpd()
    email_channel(port, certs).send(Message("Hello", "Just text, ünïcödé."))
    msg = inbox.messages[0].parsed
    assert msg.get_content_type() == "text/plain"
    assert lines(msg) == "Just text, ünïcödé."
    assert msg["Message-ID"].endswith("@example.com>")


def test_email_wrong_password_is_refused_without_showing_it(smtpd, certs):
    inbox, port = smtpd()
    wrong = "not-the-password-XYZ"
    with pytest.raises(DeliveryError) as e:
        email_channel(port, certs, password=wrong).send(MESSAGE)
    assert "535" in str(e.value) and USER in str(e.value)
    assert wrong not in str(e.value) and wrong not in repr(e.value)
    assert e.value.__cause__ is None and e.value.__context__ is not None  # hidden from tracebacks
    assert inbox.messages == []


def test_email_starttls_is_never_skipped(smtpd, certs):
    inbox, port = smtpd(starttls=False, auth=False)  # a server (or a man in the middle) without STARTTLS
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        email_channel(port, certs).send(MESSAGE)
    assert inbox.messages == []


def test_email_starttls_verifies_the_server_certificate(smtpd, certs):
    inbox, port = smtpd()
    with pytest.raises(DeliveryError, match="certificate .* not trusted"):
        email_channel(port, certs, cafile=None).send(MESSAGE)  # the system's CAs do not know ours
    assert inbox.messages == [] and inbox.logins == []  # the password never left


def test_email_implicit_tls(smtpd, certs):
    inbox, port = smtpd(starttls=False, implicit_tls=True, auth=False)
    email_channel(port, certs, security="tls", user=None, password=None).send(MESSAGE)
    assert inbox.messages[0].tls


def test_email_plain_relay_without_login(smtpd, certs):
    inbox, port = smtpd(starttls=False, auth=False)
    email_channel(port, certs, security="none", user=None, password=None).send(MESSAGE)
    assert not inbox.messages[0].tls
    with pytest.raises(ValueError, match="plain text"):
        email_channel(port, certs, security="none")  # with a user: it would send the password in clear


def test_email_server_that_never_answers_times_out():
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    s.listen(1)  # connections complete in the kernel; nobody ever greets
    try:
        start = time.monotonic()
        with pytest.raises(DeliveryError, match="no answer .* within 0.3 s"):
            EmailChannel(LOOPBACK, port=s.getsockname()[1], sender="a@example.com",
                         recipients=["b@example.com"], timeout=0.3).send(MESSAGE)
        assert time.monotonic() - start < 2
    finally:
        s.close()


def test_email_repr_hides_the_password(certs):
    ch = email_channel(25, certs)
    assert PASSWORD not in repr(ch)


# -- SMS ----------------------------------------------------------------------------------------------


def test_sms_sends_a_long_text_in_labelled_parts_to_each_number_in_order():
    sent = []
    ch = SmsChannel(lambda number, text: sent.append((number, text)), ["+49 170 1234567", "0044 7700 900123"])
    long = Message("hotspot: phone used 90% of its cap",
                   "Phone aa:bb:cc:dd:ee:01 used 1.8 GB of its 2 GB cap. " + "More follows. " * 20)
    assert ch.send(long) == "sent to 2 of 2 in 3 parts"
    assert [n for n, _ in sent] == ["+491701234567"] * 3 + ["+447700900123"] * 3
    texts = [t for n, t in sent if n == "+491701234567"]
    assert [t[:6] for t in texts] == ["(1/3) ", "(2/3) ", "(3/3) "]
    assert all(len(t) <= 160 for t in texts)
    # the subject first, without "hotspot: ", then the text: nothing lost, nothing cut inside a word
    assert " ".join(t[6:] for t in texts).replace("\n", " ") == \
        ("phone used 90% of its cap " + long.text).strip()


def test_sms_sends_a_short_text_as_it_is():
    sent = []
    SmsChannel(lambda number, text: sent.append(text), ["+491701234567"]).send(
        Message("hotspot: 流量套餐已用 80%，剩余 1 GB", "本周期已用 4 GB。"))
    assert sent == ["流量套餐已用 80%，剩余 1 GB\n本周期已用 4 GB。"]


def test_sms_failures():
    def flaky(number, text):
        if number.endswith("1"):
            raise OSError("modem: +CMS ERROR: 500")

    assert SmsChannel(flaky, ["+491701234561", "+491701234562"]).send(MESSAGE).startswith("sent to 1 of 2")
    with pytest.raises(DeliveryError, match=r"\+491701234561: modem: \+CMS ERROR: 500"):
        SmsChannel(flaky, ["+491701234561"]).send(MESSAGE)


# -- validation ---------------------------------------------------------------------------------------


def test_check_url():
    assert check_url(" HTTPS://Hooks.Example.com:8443/a/b?x=1 ") == "https://hooks.example.com:8443/a/b?x=1"
    assert check_url("http://[::1]:8080/") == "http://[::1]:8080/"
    for bad, why in [("ftp://example.com/", "http"), ("https:///path", "host"), ("example.com/hook", "http"),
                     ("https://user:pw@example.com/", "password"), ("https://exa mple.com/", "spaces"),
                     ("https://example.com:99999/", "port"), ("https://bad_host!/", "host"), ("", "empty")]:
        with pytest.raises(ValueError, match=why) as e:
            check_url(bad)
        assert "\n" not in str(e.value)


def test_check_email():
    assert check_email(" Owner.Name+hotspot@Example.COM ") == "Owner.Name+hotspot@example.com"
    for bad in ["owner", "@example.com", "owner@", "Owner <o@example.com>", "o@exa_mple.com", "ü@example.com",
                "a..b@example.com"]:
        with pytest.raises(ValueError):
            check_email(bad)


def test_check_phone():
    assert check_phone("+491701234567") == "+491701234567"
    assert check_phone("+49 (170) 123-45.67") == "+491701234567"
    assert check_phone("0049 170 1234567") == "+491701234567"
    for bad, why in [("01701234567", "international"), ("+49 170 abc", "digits"), ("+0123456789", "E.164"),
                     ("+12345", "E.164"), ("+1234567890123456", "E.164")]:
        with pytest.raises(ValueError, match=why):
            check_phone(bad)


def test_one_broken_channel_is_logged_and_skipped_the_others_go_on(caplog):
    """A Config made in code (not by load()) may hold what a channel refuses: hotspotd starts anyway,
    with the channels that work, and says in one line which one is off and why."""
    from hotspot.alerts.points import channels_of
    from hotspot.config import Config

    cfg = Config(alert_webhook="http://127.0.0.1:9/hook", alert_email=("owner@example.com",),
                 smtp_host="mail.example.com", smtp_security="none", smtp_user="owner")
    with caplog.at_level("ERROR", logger="hotspot"):
        found = channels_of(cfg)
    assert sorted(found) == ["webhook"]
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("alerts: the email channel is off: ") and "plain text" in line
