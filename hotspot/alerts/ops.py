"""The socket's operations on alerts and their delivery.

The owner's `alerts`, newest first: {"alerts": [{"id", "kind": "plan" | "client", "subject": "plan" or
a MAC, "name": the client's name or None, "period", "point": percent, "fired", "used", "allowance"}],
"deliveries": [{"id", "uid", "created", "channel", "kind", "subject", "status": "pending" | "sent" |
"failed", "attempts", "last_error", "receipt", "sent_at", "next_try", "last_try"}], "channels":
[{"name": "webhook" | "email" | "sms", "target": where it goes, "ready": bool}]}.
"""

from hotspot.core.contract import ADMIN, op

OPERATIONS = (
    op("alerts", ADMIN, "", "alerts", "The alerts fired, the delivery log and the configured channels."),
    op("test_channel", ADMIN, "channel", '{"channel", "receipt"}',
       'Send a test message now through "webhook", "email" or "sms"; BackendError with the channel\'s '
       "one-line reason.", wait=75.0),  # an SMTP server may take its timeouts for a few commands
)
