"""Fixtures shared by the unit tests of the notification channels and the outbox."""

from __future__ import annotations

import pytest


@pytest.fixture
def receiver():
    """Make HTTP receivers on loopback (tests.unit.alerts.test_channels.Receiver); all closed at the end."""
    from tests.unit.alerts.test_channels import Receiver

    made = []

    def make(**kw) -> Receiver:
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()
