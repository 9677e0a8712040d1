from celery.schedules import crontab

BEAT = {
    "incidents-remind-overdue-runbooks": {
        "task": "apps.incidents.tasks.remind_overdue_runbooks",
        "schedule": crontab(hour=8, minute=0, day_of_week="mon"),
    },
}
