"""A notification to the owner, in every form a channel may need: one value the alerts, the usage
reports and the delivery outbox pass around, whatever carries it (webhook, email, SMS)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    subject: str  # the email's subject; a webhook's "subject"
    text: str  # the plain-text body (an SMS carries its first line)
    html: str | None = None  # the email's HTML alternative
    images: tuple[tuple[str, bytes], ...] = ()  # (content id, PNG bytes), referenced from html as cid:<id>
    data: dict = field(default_factory=dict)  # what a webhook posts as JSON (with "subject" and "text")
