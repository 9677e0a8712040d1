from celery.schedules import crontab

BEAT = {
    # Chat messages queued while the broker was down are handed over again, or failed with the
    # reason, within minutes (apps.notifications.reaper).
    "notifications-requeue-stale-deliveries": {"task": "notifications.requeue_stale_deliveries",
                                               "schedule": crontab(minute="*/5")},
}
