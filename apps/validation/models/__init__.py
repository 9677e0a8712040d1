"""Post-deployment validation (issue #14)."""
