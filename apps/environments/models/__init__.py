"""Environments and configuration (issue #13): provisioning records and schema migrations
(provisioning.py, schema.py); baselines, observations and drift (config.py)."""

from .config import (
    ConfigBaseline,
    ConfigObservation,
    ConfigState,
    DriftFinding,
    EnvironmentConfigPolicy,
    ParityPrecision,
)
from .provisioning import Provision, ProvisionResource
from .schema import AppliedMigration, MigrationMismatch, MigrationTool

__all__ = ["AppliedMigration", "ConfigBaseline", "ConfigObservation", "ConfigState", "DriftFinding",
           "EnvironmentConfigPolicy", "MigrationMismatch", "MigrationTool", "ParityPrecision", "Provision",
           "ProvisionResource"]
