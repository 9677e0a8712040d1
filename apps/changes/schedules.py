from celery.schedules import crontab

BEAT = {
    "changes-approval-reminders": {"task": "apps.changes.tasks.approval_reminders_send", "schedule": crontab(minute="*/15")},
    "changes-emergency-overrides-expired": {"task": "apps.changes.tasks.emergency_overrides_flag_expired",
                                            "schedule": crontab(minute="*/5")},
}
