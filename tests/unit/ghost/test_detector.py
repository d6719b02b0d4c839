"""The ghost-traffic detector on synthetic devices: what they always do raises nothing, leaks do."""

from hotspot.ghost import detector as ghost
from tests.bench import ghost as synth


def test_false_alarms_and_detections_meet_their_goals():
    r = synth.evaluate(devices=2, months=1, leaks=4, seed=7, verbose=False)
    assert r["false_alarms_per_client_month"] <= 1
    assert r["detection_rate"] >= 0.9


def test_slot_counts_from_monday_midnight_local():
    assert ghost.slot(synth.T0) == 0
    assert ghost.slot(synth.T0 + 5 * ghost.DAY + 13 * ghost.HOUR + 59) == 5 * 24 + 13
    assert ghost.slot(synth.T0, offset=-3600) == 167  # Sunday 23:00 an hour west


def _history(bins_by_day):
    return synth._hourly(bins_by_day, 0)


def test_an_upload_at_night_on_a_quiet_phone_is_an_event_with_its_bytes():
    import random

    rng = random.Random(3)
    days = [synth.normal_day("phone", d % 7, rng) for d in range(29)]
    since, until = synth.T0, synth.T0 + 28 * ghost.DAY
    b = ghost.baseline(_history(days[:28]), since, until)
    day = [x[:] for x in days[28]]
    synth._add(day, 3.0, 40, 300 * synth.KB, 10 * synth.KB, rng, 0)  # 03:00-03:40, 300 kB/s up
    st = ghost.Settings(bin_seconds=300, min_seconds=1800, min_bytes=20 * ghost.MB)
    (e,) = ghost.detect(b, synth._bins(day, 28), st)
    assert e.kind == "upload"
    assert e.start == until + 3 * 3600 and e.end == until + 3 * 3600 + 40 * 60
    assert e.up >= 40 * 60 * 300 * synth.KB


def test_a_cameras_steady_upload_is_its_normal_and_a_new_device_has_the_prior():
    import random

    rng = random.Random(4)
    days = [synth.normal_day("camera", d % 7, rng) for d in range(15)]
    b = ghost.baseline(_history(days[:14]), synth.T0, synth.T0 + 14 * ghost.DAY)
    assert ghost.detect(b, synth._bins(days[14], 14)) == []
    new = ghost.baseline([], synth.T0, synth.T0)
    assert new.days == 0 and new.total == ghost.PRIOR.total


def test_short_or_small_runs_are_not_events():
    b = ghost.baseline([], synth.T0, synth.T0)  # the prior: 3 MB an hour at 3 a.m.
    st = ghost.Settings(bin_seconds=10, min_seconds=60, min_bytes=1_000_000)
    night = synth.T0 + 3 * 3600
    steady = [(night + 10 * i, 200_000, 5_000) for i in range(6)]
    assert [e.kind for e in ghost.detect(b, steady, st)] == ["upload"]
    assert ghost.detect(b, steady[:5], st) == []  # 50 s < 60 s
    assert ghost.detect(b, [(t, 1_000, 10) for t, _u, _d in steady], st) == []  # too few bytes
