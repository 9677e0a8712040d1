from celery.schedules import crontab

BEAT = {
    # A verdict moves with time alone (the window ends, a smoke deadline passes).
    "validation-judge-open-deployments": {
        "task": "apps.validation.tasks.judge_open_deployments",
        "schedule": crontab(minute="*"),
    },
}
