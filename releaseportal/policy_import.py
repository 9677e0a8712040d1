"""One management command shape for every "policy as a file" import (change types, the single
sign-on group mapping): read the file, plan, show the diff, stop on --dry-run, apply as the
command's actor. Each app names its own planner, applier and refusal."""

from __future__ import annotations

from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from apps.audit.actor import Actor, acting_as


class PolicyError(Exception):
    """A policy file refused: the line (when known) and the reason."""

    def __init__(self, line: int | None, reason: str) -> None:
        self.line = line
        self.reason = reason
        super().__init__(f"line {line}: {reason}" if line else reason)


class LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping (as "__line__"), so errors can name it."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class PolicyImportCommand(BaseCommand):
    actor_name: str
    error: type[Exception]

    def plan(self, text: str):
        raise NotImplementedError

    def apply(self, plan, *, actor) -> None:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--dry-run", action="store_true", help="Show the diff without applying it")

    def handle(self, *args, path: str, dry_run: bool, **options):
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from exc
        try:
            plan = self.plan(text)
        except self.error as exc:
            raise CommandError(f"{path}: refused, nothing applied — {exc}") from exc
        for line in plan.diff + plan.notes:
            self.stdout.write(line)
        if not plan.has_changes:
            self.stdout.write("No changes.")
            return
        if dry_run:
            self.stdout.write(f"Dry run: {len(plan.diff)} change(s) not applied.")
            return
        with acting_as(Actor.for_command(self.actor_name)) as actor:
            self.apply(plan, actor=actor)
        self.stdout.write(self.style.SUCCESS(f"Applied {len(plan.diff)} change(s)."))
