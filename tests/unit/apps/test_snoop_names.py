from hotspot.apps.snoop import names as dnsnames


def test_names_live_until_their_ttl(tmp_path):
    assert dnsnames.names_for(str(tmp_path), ["192.0.2.1"], 0) == {}  # no file yet
    db = dnsnames.connect(str(tmp_path))
    dnsnames.record(db, [("192.0.2.1", "cdn.example.com", "video", 100.0, dnsnames.SHARED),
                         ("2001:db8::1", "backup.example.net", "backup", 50.0, dnsnames.SHARED)])
    got = dnsnames.names_for(str(tmp_path), ["192.0.2.1", "2001:db8::1", "192.0.2.9"], 60.0)
    assert got == {"192.0.2.1": "cdn.example.com"}
    assert dnsnames.addresses_for(str(tmp_path), "cdn.example.com", 60.0) == ["192.0.2.1"]
    assert dnsnames.addresses_for(str(tmp_path), "backup.example.net", 60.0) == []  # its TTL ran out
    assert dnsnames.prune(db, 60.0) == 1
    assert dnsnames.names_for(str(tmp_path), ["192.0.2.1"], 100.0) == {}


def test_a_devices_own_answers_name_its_destinations_only(tmp_path):
    """The router's resolver's answers name an address for every device; another server's were
    asked by one device and name it for that device alone (its own win there)."""
    me, other = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
    db = dnsnames.connect(str(tmp_path))
    dnsnames.record(db, [("8.8.8.8", "dns.google", None, 100.0, dnsnames.SHARED),
                         ("8.8.8.8", "update.example", "updates", 100.0, me),
                         ("192.0.2.7", "tracker.example", None, 100.0, me)])
    run = str(tmp_path)
    assert dnsnames.names_for(run, ["8.8.8.8", "192.0.2.7"], 0.0) == {"8.8.8.8": "dns.google"}
    assert dnsnames.names_for(run, ["8.8.8.8", "192.0.2.7"], 0.0, device=other) == {"8.8.8.8": "dns.google"}
    assert dnsnames.names_for(run, ["8.8.8.8", "192.0.2.7"], 0.0, device=me) == {
        "8.8.8.8": "update.example", "192.0.2.7": "tracker.example"}
    assert dnsnames.addresses_for(run, "update.example", 0.0) == []
    assert dnsnames.addresses_for(run, "update.example", 0.0, device=other) == []
    assert dnsnames.addresses_for(run, "update.example", 0.0, device=me) == ["8.8.8.8"]
    assert dnsnames.addresses_for(run, "dns.google", 0.0, device=me) == ["8.8.8.8"]


def test_an_older_names_file_is_made_anew(tmp_path):
    import sqlite3

    old = sqlite3.connect(str(tmp_path / dnsnames.DB_NAME))
    old.execute("CREATE TABLE names (addr TEXT PRIMARY KEY, name TEXT NOT NULL, category TEXT, "
                "expires REAL NOT NULL) WITHOUT ROWID")
    old.execute("INSERT INTO names VALUES ('8.8.8.8', 'forged.example', NULL, 1e12)")
    old.commit()
    old.close()
    assert dnsnames.names_for(str(tmp_path), ["8.8.8.8"], 0.0) == {}  # a reader: nothing, no error
    db = dnsnames.connect(str(tmp_path))
    dnsnames.record(db, [("8.8.8.8", "dns.google", None, 100.0, dnsnames.SHARED)])
    assert dnsnames.names_for(str(tmp_path), ["8.8.8.8"], 0.0) == {"8.8.8.8": "dns.google"}


def test_the_names_file_is_root_only_whatever_the_umask(tmp_path):
    """It says which sites each client visits."""
    import os

    old = os.umask(0o022)
    try:
        db = dnsnames.connect(str(tmp_path / "run"))
        dnsnames.record(db, [("192.0.2.1", "cdn.example.com", "video", 100.0, dnsnames.SHARED)])
    finally:
        os.umask(old)
    files = sorted((tmp_path / "run").iterdir())
    assert [p.name for p in files] == ["dns.db", "dns.db-shm", "dns.db-wal"]
    assert {p.stat().st_mode & 0o777 for p in files} == {0o600}
    db.close()
