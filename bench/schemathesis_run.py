"""The OpenAPI contract under schemathesis, at volume (issue 17): 10,000+ cases over every operation.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rp_schema .venv/bin/python bench/schemathesis_run.py
    BENCH_EXAMPLES=30 ... examples per operation, token, generation mode and path variant (default 25: about 12,000 cases; generation stops early where an operation has few distinct inputs)
    BENCH_SEED_DEMO=0 ... do not load the demo organisation when the database has no change yet

Fetches the live schema from /api/schema/ and calls every operation in this process through the
whole Django stack (tests/contract.py), with valid and invalid cases generated from the schema,
once with an all-scopes token (a superuser's) and once with a low-privilege one (a team member
without a role: read scopes only), and once more with known records in the path. Prints the
cases tried, the 5xx count, schema violations and undocumented statuses (then the distinct
findings). Exits 1 when any was found. Deterministic (derandomized generation) for the same data.

It migrates, loads the demo organisation if the database has no change request (seed_demo, about
a minute) and creates two bench users and their tokens: use your own database. The cases create
records (changes, artifacts, deployments...) in it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "releaseportal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

EXAMPLES = int(os.environ.get("BENCH_EXAMPLES", "25"))


def _setup() -> dict[str, str]:
    from apps.accounts.models import Team, TeamMembership, User
    from apps.accounts.services import api_token_create
    from apps.changes.models import ChangeRequest

    call_command("migrate", verbosity=0)
    if os.environ.get("BENCH_SEED_DEMO", "1") != "0" and not ChangeRequest.objects.exists():
        call_command("seed_demo", verbosity=0)
    admin, _ = User.objects.get_or_create(username="bench-schema", defaults={
        "is_superuser": True, "is_staff": True, "first_name": "Bench"})
    reader, _ = User.objects.get_or_create(username="bench-schema-reader", defaults={"first_name": "Reader"})
    team, _ = Team.objects.get_or_create(slug="bench-schema", defaults={"name": "Bench schema"})
    TeamMembership.objects.get_or_create(team=team, user=reader)
    return {"all-scopes": api_token_create(user=admin, actor=admin, name="bench schemathesis")[1],
            "low-privilege": api_token_create(user=reader, actor=reader, name="bench schemathesis")[1]}


def main() -> int:
    import logging

    from django.conf import settings

    from tests.contract import Tally, known_path_values, load_schema, run, wsgi_app

    # Every refused case would log a warning (django.request): the figures are what matters here.
    logging.disable(logging.WARNING)
    # As in production (and under pytest): errors are the portal's answers, not the debug pages.
    settings.DEBUG = False
    tokens = _setup()
    app = wsgi_app()
    schema = load_schema(app, tokens["all-scopes"])
    operations = sum(1 for _ in schema.get_all_operations())
    started = time.perf_counter()
    tally = run(schema, tokens, examples=EXAMPLES, path_values=known_path_values(), tally=Tally())
    elapsed = time.perf_counter() - started
    print(f"operations: {operations}, examples per operation/token/mode/variant: {EXAMPLES}")
    print(tally.report())
    print(f"time: {elapsed:.0f} s ({tally.cases / elapsed:.0f} cases/s)")
    return 1 if tally.findings else 0


if __name__ == "__main__":
    sys.exit(main())
