"""The metrics textfile: replaced whole with what /metrics serves, 0644 and root's, never written
through a link, never in a directory another user could change; its option takes only a .prom file."""

from __future__ import annotations

import os
import stat
import time
from types import SimpleNamespace

import pytest

from hotspot.config import Config, load
from hotspot.core.config import ConfigError
from hotspot.core.files import UnsafePath
from hotspot.metrics.textfile import Textfile, write_textfile
from tests.portal_fake import FakeBackend
from tests.promtool import promtool_check, samples


def fake_metrics() -> dict:
    b = FakeBackend(metrics_token="t" * 16)
    return b.metrics(token="t" * 16)


@pytest.fixture
def strict_umask():
    old = os.umask(0o077)  # the modes are the files' own, whatever hotspotd's umask
    yield
    os.umask(old)


def test_written_whole_0644_and_promtool_accepts_it(tmp_path, strict_umask):
    cfg = SimpleNamespace(metrics_textfile=str(tmp_path / "prometheus" / "hotspot.prom"),
                          metrics_textfile_interval=15)
    core = SimpleNamespace(cfg=cfg)
    step = Textfile(core, fake_metrics)
    step.step()
    path = tmp_path / "prometheus" / "hotspot.prom"
    st = path.lstat()
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644 and st.st_uid == os.geteuid()
    assert stat.S_IMODE((tmp_path / "prometheus").stat().st_mode) == 0o755
    text = path.read_text()
    promtool_check(text)
    assert samples(text)['hotspot_client_bytes_total{mac="a4:5e:60:11:22:33",direction="up"}'] == 68888888
    assert [p.name for p in path.parent.iterdir()] == ["hotspot.prom"]  # no temporary file left

    path.write_text("old")
    step.step()  # within the interval: not written again
    assert path.read_text() == "old"
    step.due = time.monotonic()
    step.step()
    assert path.read_text() == text


def test_off_by_default_writes_nothing(tmp_path):
    cfg = Config()
    assert cfg.metrics_textfile is None and cfg.metrics_textfile_interval == 15
    Textfile(SimpleNamespace(cfg=cfg), lambda: pytest.fail("no metrics asked for when off")).step()


def test_a_link_at_the_name_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "shadow"
    victim.write_text("root's own\n")
    victim.chmod(0o600)
    (tmp_path / "prom").mkdir(mode=0o755)
    link = tmp_path / "prom" / "hotspot.prom"
    link.symlink_to(victim)
    write_textfile(str(link), "# HELP x_total x.\n# TYPE x_total counter\nx_total 1\n")
    assert victim.read_text() == "root's own\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert not link.is_symlink() and link.read_text().endswith("x_total 1\n")


def test_a_directory_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # another user could swap the file for a link between two writes
    with pytest.raises(UnsafePath, match="writable by other users"):
        write_textfile(str(shared / "hotspot.prom"), "x_total 1\n")
    assert list(shared.iterdir()) == []


@pytest.mark.parametrize("value, reason", [
    ("var/prometheus/hotspot.prom", "not an absolute path"),
    ("/var/prometheus/hotspot.txt", "ending in .prom"),
    ("/var/prometheus/.prom", "ending in .prom"),
])
def test_the_option_takes_only_a_prom_file(tmp_path, value, reason):
    conf = tmp_path / "hotspot"
    conf.write_text(f"config hotspot 'main'\n\toption metrics_textfile '{value}'\n")
    with pytest.raises(ConfigError, match=reason):
        load(conf)
    conf.write_text("config hotspot 'main'\n\toption metrics_textfile '/var/prometheus/hotspot.prom'\n"
                    "\toption metrics_textfile_interval '0'\n")
    with pytest.raises(ConfigError, match="between 1 and 3600"):
        load(conf)
