from celery.schedules import crontab

BEAT = {
    "audit-archive-closed-records": {
        "task": "apps.audit.tasks.archive_closed_records",
        # Monthly, early on the 2nd, after month-end reports have run.
        "schedule": crontab(day_of_month=2, hour=2, minute=30),
    },
}
