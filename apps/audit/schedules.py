from celery.schedules import crontab

BEAT = {
    "audit-archive-closed-records": {
        "task": "apps.audit.tasks.archive_closed_records",
        # Monthly, early on the 2nd, after month-end reports have run.
        "schedule": crontab(day_of_month=2, hour=2, minute=30),
    },
    # Events newer than the last anchor are the only ones whose deletion goes unseen: keep the
    # window short. An unchanged head writes nothing.
    "audit-anchor-chain-head": {"task": "apps.audit.tasks.anchor_chain_head", "schedule": crontab(minute="*/15")},
    # A pack whose worker died is failed with a reason within minutes (apps.audit.reaper).
    "audit-reap-stuck-evidence-packs": {"task": "apps.audit.tasks.reap_stuck_evidence_packs",
                                        "schedule": crontab(minute="*/5")},
}
