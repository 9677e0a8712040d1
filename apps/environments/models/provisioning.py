"""Provisioning records: an infrastructure-as-code run that built or changed an environment.

Only the shape of a Terraform/OpenTofu plan is kept (resource addresses, types and actions, and
the plan's format and tool versions), never its values: a plan's `before`/`after` may hold
secrets, so they are read to count and then dropped."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.audit.history import governed_history

SUMMARY_KEYS = ("create", "update", "delete", "replace", "read", "no_op")


class Provision(models.Model):
    class Tool(models.TextChoices):
        TERRAFORM = "terraform", "Terraform"
        OPENTOFU = "opentofu", "OpenTofu"
        PULUMI = "pulumi", "Pulumi"
        CLOUDFORMATION = "cloudformation", "CloudFormation"
        ANSIBLE = "ansible", "Ansible"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"

    environment = models.ForeignKey("catalog.Environment", on_delete=models.PROTECT, related_name="provisions")
    tool = models.CharField(max_length=16, choices=Tool.choices)
    repository = models.CharField(max_length=300, blank=True)
    git_sha = models.CharField(max_length=40, blank=True)
    pipeline_run_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices)
    change = models.ForeignKey("changes.ChangeRequest", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="provisions")
    has_plan = models.BooleanField(default=False)
    plan_format_version = models.CharField(max_length=20, blank=True)
    tool_version = models.CharField(max_length=40, blank=True, help_text="terraform_version of the plan")
    create_count = models.PositiveIntegerField(default=0)
    update_count = models.PositiveIntegerField(default=0)
    delete_count = models.PositiveIntegerField(default=0)
    replace_count = models.PositiveIntegerField(default=0)
    read_count = models.PositiveIntegerField(default=0)
    no_op_count = models.PositiveIntegerField(default=0)
    # A production run that destroyed or replaced resources without an approved change for this
    # environment: recorded all the same, flagged like an unauthorised deployment.
    is_unauthorized = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    history = governed_history()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["environment", "created_at"], name="provision_env_created_idx"),
            models.Index(fields=["change"], name="provision_change_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_tool_display()} {self.status} in {self.environment_id} #{self.pk}"

    @property
    def summary(self) -> dict[str, int]:
        return {key: getattr(self, f"{key}_count") for key in SUMMARY_KEYS}

    @staticmethod
    def counts(summary: dict[str, int]) -> dict[str, int]:
        """A plan summary as the model's fields (`delete_count`: a field named `delete` would hide
        Model.delete())."""
        return {f"{key}_count": summary[key] for key in SUMMARY_KEYS}

    @property
    def destructive(self) -> bool:
        return bool(self.delete_count or self.replace_count)


class ProvisionResource(models.Model):
    """One resource address a plan touches, with what it does to it. No values."""

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        REPLACE = "replace", "Replace"
        READ = "read", "Read"
        NO_OP = "no_op", "No change"
        FORGET = "forget", "Forget"

    provision = models.ForeignKey(Provision, on_delete=models.CASCADE, related_name="resources")
    address = models.CharField(max_length=500)
    resource_type = models.CharField(max_length=200, blank=True)
    mode = models.CharField(max_length=10, blank=True)
    action = models.CharField(max_length=8, choices=Action.choices)

    class Meta:
        ordering = ["provision", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.address}"
