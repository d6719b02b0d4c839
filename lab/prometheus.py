"""A real Prometheus (Debian's) on the host's loopback, scraping lab routers' /metrics through
lab.forward ports, with its own config and storage in a temporary directory; queried over its HTTP
API. Only loopback: each router's portal is reached by a relay that connects from inside the lab."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from lab.processes import stop_processes

_LISTENING = re.compile(r'msg="Listening on" address=127\.0\.0\.1:(\d+)')


class Prometheus:
    def __init__(self, targets: dict[str, str], token: str, scrape_interval: str = "1s") -> None:
        """`targets`: router name -> the host:port its /metrics answers on (a lab.forward port);
        every sample gets the label router="<name>"."""
        binary = shutil.which("prometheus")
        if not binary:
            raise RuntimeError("prometheus is missing: make setup installs Debian's prometheus")
        self.dir = Path(tempfile.mkdtemp(prefix="hs-prometheus-"))
        self.dir.chmod(0o700)
        token_file = self.dir / "token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        jobs = [{"targets": [address], "labels": {"router": name}} for name, address in targets.items()]
        config = {"global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval},
                  "scrape_configs": [{"job_name": "hotspot", "metrics_path": "/metrics",
                                      "authorization": {"type": "Bearer",
                                                        "credentials_file": str(token_file)},
                                      "static_configs": jobs}]}
        (self.dir / "prometheus.yml").write_text(json.dumps(config, indent=1))  # YAML reads JSON
        self.log_path = self.dir / "prometheus.log"
        with open(self.log_path, "w") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [binary, f"--config.file={self.dir / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.dir / 'data'}", "--web.listen-address=127.0.0.1:0",
                 "--storage.tsdb.retention.time=1h"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.url = ""
        deadline = time.monotonic() + 30
        while not self.url:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"prometheus did not start: {self.log()[-2000:]}")
            if m := _LISTENING.search(self.log()):
                self.url = f"http://127.0.0.1:{m[1]}"
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def api(self, path: str, **params: str) -> dict:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as r:
            answer = json.load(r)
        if answer.get("status") != "success":
            raise RuntimeError(f"prometheus {path} {params}: {answer}")
        return answer["data"]

    def query(self, promql: str) -> list[dict]:
        """An instant query's vector: [{"metric": {labels}, "value": [time, "text"]}]."""
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", data
        return data["result"]

    def scraped_since(self, t: float) -> bool:
        """Every target was scraped successfully, by a scrape that started after wall time `t`."""
        targets = self.api("targets")["activeTargets"]
        return bool(targets) and all(
            x["health"] == "up" and _epoch(x["lastScrape"]) > t for x in targets)

    def close(self) -> None:
        stop_processes([self.proc], grace=15)
        shutil.rmtree(self.dir, ignore_errors=True)


def _epoch(rfc3339: str) -> float:
    """Prometheus' times (nanoseconds, Z): seconds since the epoch."""
    from datetime import datetime

    head, _, frac = rfc3339.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(head + "+00:00").timestamp()
    return whole + (float("0." + frac.split("+")[0]) if frac else 0.0)
