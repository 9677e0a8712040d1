"""Environments and configuration (issue #13): provisioning records and schema migrations
(provisioning.py, schema.py); baselines, observations and drift (config.py)."""

from .provisioning import Provision, ProvisionResource
from .schema import AppliedMigration, MigrationMismatch, MigrationTool

__all__ = ["AppliedMigration", "MigrationMismatch", "MigrationTool", "Provision", "ProvisionResource"]
