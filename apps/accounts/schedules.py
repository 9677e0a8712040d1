from celery.schedules import crontab

BEAT = {
    "accounts-revoke-expired-tokens": {"task": "apps.accounts.tasks.revoke_expired_tokens", "schedule": crontab(minute=5)},
    "accounts-housekeeping": {"task": "apps.accounts.tasks.purge_housekeeping_records", "schedule": crontab(minute=15, hour=3)},
}
