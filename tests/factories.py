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
