from celery.schedules import crontab

BEAT = {
    "access-reviews-expire-grants": {"task": "apps.access_reviews.tasks.expire_grants",
                                     "schedule": crontab(minute="*/5")},
    # Opens on the first day of each quarter; the next six days are a harmless catch-up (the
    # campaign is opened once per quarter) for when beat was down on the first.
    "access-reviews-open-quarterly": {"task": "apps.access_reviews.tasks.open_quarterly_campaign",
                                      "schedule": crontab(minute=0, hour=6, day_of_month="1-7",
                                                          month_of_year="1,4,7,10")},
    # A close whose worker died is dispatched again or failed with a reason within minutes
    # (apps.access_reviews.reaper; evidence packs have theirs in apps.audit.reaper).
    "access-reviews-reap-stuck-closes": {"task": "apps.access_reviews.tasks.reap_stuck_campaign_closes",
                                         "schedule": crontab(minute="*/5")},
    "access-reviews-reminders": {"task": "apps.access_reviews.tasks.send_reminders_and_escalate",
                                 "schedule": crontab(minute=30, hour=7)},
}
