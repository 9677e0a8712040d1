"""Post-deployment validation (issue #14)."""

from .canary import CanaryAnalysis
from .checks import CheckResult, CheckRun
from .logs import LogFingerprint, LogReview
from .policy import HealthPolicy
from .samples import Cohort, MetricSampleBatch
from .verdicts import RollbackDecision, Verdict
from .webhooks import RollbackWebhook, RollbackWebhookAttempt

__all__ = [
    "CanaryAnalysis", "CheckResult", "CheckRun", "Cohort", "HealthPolicy", "LogFingerprint", "LogReview",
    "MetricSampleBatch", "RollbackDecision", "RollbackWebhook", "RollbackWebhookAttempt", "Verdict",
]
