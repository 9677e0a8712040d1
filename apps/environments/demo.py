"""Demo data of the environments app. The lead merges prov's provisioning and migration seeds in
here; each part is idempotent on its own."""

from __future__ import annotations

from .config_demo import seed_config


def seed(ctx) -> None:
    seed_config(ctx)
