from celery.schedules import crontab

BEAT = {
    # Hourly: a policy counts in hours (EnvironmentConfigPolicy.max_hours_without_observation).
    "environments-flag-stale-observations": {
        "task": "apps.environments.config_tasks.flag_stale_observations",
        "schedule": crontab(minute=17),
    },
}
