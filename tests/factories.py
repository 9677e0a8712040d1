"""factory-boy factories for bulk and one-off data."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from apps.accounts.models import Team, TeamMembership, User
from apps.catalog.models import Service


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")
    password = factory.django.Password("demo")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for name in extracted or ():
            self.groups.add(Group.objects.get_or_create(name=name)[0])

    @factory.post_generation
    def team(self, create, extracted, **kwargs):
        if extracted is not None:
            TeamMembership.objects.get_or_create(team=extracted, user=self)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    owner_team = factory.SubFactory(TeamFactory)
    tier = 3
    compliance_scopes = factory.LazyFunction(lambda: ["sox"])


# --- change requests ------------------------------------------------------------------------

DEPLOYABLE_STATES = ("approved", "scheduled", "implementing")


def approve_on_record(change, *, when=None):
    """Give a change built straight in the database the approval record the approval engine would
    have left: the content hash stored, one live approval in every stage that applies (each by a new
    person who is neither requester nor implementer) and `approved_at`. The gate decides on this
    record (apps.changes.selectors.change_is_deployable), never on the state name. Returns the change."""
    from django.utils import timezone

    from apps.changes import workflow
    from apps.changes.models import Approval, ChangeRequest

    when = when or timezone.now()
    change.content_hash = workflow.content_hash(change)
    change.approved_at = change.approved_at or when
    ChangeRequest.objects.filter(pk=change.pk).update(content_hash=change.content_hash, approved_at=change.approved_at)
    for stage in workflow.applicable_stages(change):
        needed = stage.quorum if stage.rule == "quorum" else 1
        for _ in range(needed):
            Approval.objects.create(change=change, stage=stage, stage_name=stage.name, approver=UserFactory(),
                                    decision="approve", comment="approved on record", content_hash=change.content_hash,
                                    decided_at=when)
    return change
