"""The environments app's admin registrations: configuration (config_admin); the lead merges
provisioning and schema migrations in here."""

from . import config_admin  # noqa: F401
