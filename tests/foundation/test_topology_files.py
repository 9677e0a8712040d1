"""compose.yaml (docs/topology.md) parses and speaks the settings' language: every variable it
gives the application is one releaseportal/settings.py reads, and the worker pools consume the
queues the settings route to."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _settings_variables() -> set[str]:
    source = (ROOT / "releaseportal" / "settings.py").read_text()
    return set(re.findall(r'env_(?:str|bool|int|list)\(\s*"([A-Z0-9_]+)"', source)) | set(
        re.findall(r'os\.environ\.get\(\s*"([A-Z0-9_]+)"', source))


def _queue(command: list[str]) -> str:
    return command[command.index("-Q") + 1]


def test_compose_gives_the_app_only_variables_the_settings_read():
    app_env = _compose()["x-app-env"]
    unknown = sorted(set(app_env) - _settings_variables())
    assert unknown == []
    for name in ("DATABASE_URL", "DATABASE_REPLICA_URL", "CELERY_BROKER_URL", "ARCHIVE_S3_BUCKET", "SECRET_KEY"):
        assert name in app_env


def test_compose_runs_the_documented_topology():
    compose = _compose()
    services = compose["services"]
    app_env = compose["x-app-env"]
    workers = {name: svc for name, svc in services.items() if "worker" in svc.get("command", [])}
    queues = {_queue(svc["command"]) for svc in workers.values()}
    assert queues == {"celery", app_env["CELERY_HEAVY_QUEUE"]}
    beats = [svc for svc in services.values() if "beat" in svc.get("command", [])]
    assert len(beats) == 1 and beats[0]["deploy"]["replicas"] == 1
    assert services["postgres-primary"]["image"] == services["postgres-replica"]["image"] == "postgres:15"
    assert "postgres-replica:" in app_env["DATABASE_REPLICA_URL"]
    assert "postgres-primary:" in app_env["DATABASE_URL"]
    assert services["redis"]["image"] == "redis:7"
    for name in ("web", "worker-default", "worker-heavy", "beat", "migrate"):
        assert services[name]["image"] == "release-portal:latest"
    assert (ROOT / "Dockerfile").is_file()
    for script in ("primary-init.sh", "replica-entrypoint.sh"):
        assert (ROOT / "deploy" / "compose" / script).is_file()
