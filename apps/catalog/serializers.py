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


class ServiceUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    tier = serializers.IntegerField(min_value=1, max_value=4, required=False)
    compliance_scopes = serializers.ListField(child=serializers.CharField(max_length=20), required=False)
    repository_url = serializers.URLField(required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)
