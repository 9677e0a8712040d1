"""Settings of the portal processes the live fault test starts (tests/hostile/test_live_faults.py):
production settings (DEBUG off, so failures go through the portal's handlers) with plain static
storage, so pages render without the minute-long `collectstatic` a manifest needs."""

from releaseportal.settings import *  # noqa: F403
from releaseportal.settings import STORAGES

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
