from celery.schedules import crontab

BEAT = {
    "releases-open-missing-retrospectives": {
        "task": "apps.releases.tasks.open_missing_retrospectives",
        "schedule": crontab(minute=15),
    },
}
