from rest_framework import serializers

from .models import Environment, Service


class ServiceOut(serializers.ModelSerializer):
    owner_team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Service
        fields = ["slug", "name", "description", "owner_team", "tier", "compliance_scopes", "repository_url", "is_active"]


class EnvironmentOut(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = ["slug", "name", "order", "is_production"]
