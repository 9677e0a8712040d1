"""Risk assessment: a short questionnaire, the service's tier and the owning team's recent change
failure rate give a score; the score gives a level. Every contribution is recorded so the level
can be explained on the change (`risk_breakdown`)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

# key, question, points when answered yes
QUESTIONS: list[tuple[str, str, int]] = [
    ("database_change", "Does the change alter a database schema or its data?", 15),
    ("customer_downtime", "Could customers notice downtime or degradation?", 20),
    ("rollback_untested", "Is the rollback untested?", 15),
    ("security_controls", "Does it touch authentication, authorisation or encryption?", 15),
    ("new_technology", "Does it introduce a new technology or dependency?", 10),
    ("multi_service", "Does it affect more than one service?", 10),
]
QUESTION_KEYS = [key for key, _, _ in QUESTIONS]
TIER_POINTS = {1: 20, 2: 12, 3: 6, 4: 0}
# The team's failure rate over this many days counts for up to FAILURE_RATE_MAX_POINTS.
FAILURE_RATE_DAYS = 90
FAILURE_RATE_MAX_POINTS = 20
# Score thresholds: below 25 low, below 45 medium, below 65 high, else critical.
LEVEL_THRESHOLDS = [(25, "low"), (45, "medium"), (65, "high")]


def level_for(score: int) -> str:
    for limit, level in LEVEL_THRESHOLDS:
        if score < limit:
            return level
    return "critical"


def clean_answers(answers: dict | None) -> dict[str, bool]:
    answers = answers or {}
    return {key: bool(answers.get(key, False)) for key in QUESTION_KEYS}


def team_failure_rate(team_id: int | None) -> tuple[float, int]:
    """(rate, changes counted): failed or rolled-back implementations over the recent window."""
    if team_id is None:
        return 0.0, 0
    from .models import ChangeRequest

    since = timezone.now() - timedelta(days=FAILURE_RATE_DAYS)
    outcomes = list(ChangeRequest.objects.filter(service__owner_team_id=team_id, implemented_at__gte=since)
                    .exclude(outcome="").values_list("outcome", flat=True))
    if not outcomes:
        return 0.0, 0
    failed = sum(1 for o in outcomes if o in ("failed", "rolled_back"))
    return failed / len(outcomes), len(outcomes)


def assess(*, answers: dict | None, service) -> tuple[int, str, list[dict]]:
    """(score, level, breakdown) for a change to `service`."""
    answers = clean_answers(answers)
    breakdown: list[dict] = []
    for key, question, points in QUESTIONS:
        if answers[key]:
            breakdown.append({"factor": key, "label": question, "points": points})
    tier_points = TIER_POINTS.get(service.tier, 0)
    breakdown.append({"factor": "service_tier", "label": f"Service tier {service.tier}", "points": tier_points})
    rate, counted = team_failure_rate(service.owner_team_id)
    rate_points = round(min(rate, 0.5) * 2 * FAILURE_RATE_MAX_POINTS)
    breakdown.append({"factor": "team_failure_rate",
                      "label": f"Team change failure rate {rate:.0%} over {counted} changes ({FAILURE_RATE_DAYS} days)",
                      "points": rate_points})
    score = sum(item["points"] for item in breakdown)
    return score, level_for(score), breakdown
