from hotspot import dnsnames


def test_names_live_until_their_ttl(tmp_path):
    assert dnsnames.names_for(str(tmp_path), ["192.0.2.1"], 0) == {}  # no file yet
    db = dnsnames.connect(str(tmp_path))
    dnsnames.record(db, [("192.0.2.1", "cdn.example.com", "video", 100.0),
                         ("2001:db8::1", "backup.example.net", "backup", 50.0)])
    got = dnsnames.names_for(str(tmp_path), ["192.0.2.1", "2001:db8::1", "192.0.2.9"], 60.0)
    assert got == {"192.0.2.1": "cdn.example.com"}
    assert dnsnames.addresses_for(str(tmp_path), "cdn.example.com", 60.0) == ["192.0.2.1"]
    assert dnsnames.addresses_for(str(tmp_path), "backup.example.net", 60.0) == []  # its TTL ran out
    assert dnsnames.prune(db, 60.0) == 1
    assert dnsnames.names_for(str(tmp_path), ["192.0.2.1"], 100.0) == {}


def test_the_names_file_is_root_only_whatever_the_umask(tmp_path):
    """It says which sites each client visits."""
    import os

    old = os.umask(0o022)
    try:
        db = dnsnames.connect(str(tmp_path / "run"))
        dnsnames.record(db, [("192.0.2.1", "cdn.example.com", "video", 100.0)])
    finally:
        os.umask(old)
    files = sorted((tmp_path / "run").iterdir())
    assert [p.name for p in files] == ["dns.db", "dns.db-shm", "dns.db-wal"]
    assert {p.stat().st_mode & 0o777 for p in files} == {0o600}
    db.close()
