"""Environments and configuration (issue #13): provisioning records and schema migrations
(provisioning.py, schema.py); baselines, observations and drift (config.py)."""

from .config import (  # noqa: F401
    ConfigBaseline,
    ConfigObservation,
    ConfigState,
    DriftFinding,
    EnvironmentConfigPolicy,
    ParityPrecision,
)
