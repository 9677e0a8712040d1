"""Signals about services that other apps send or listen to (apps never import upward)."""

from django.dispatch import Signal

# Sent when someone exercises a privilege on a service: a deployment, a gate check, an
# approval. Arguments: user, privilege ("deployer" | "approver" | "service_admin"), service,
# environment, at. apps.access_reviews listens and refreshes the grant's last_used_at.
privilege_exercised = Signal()
