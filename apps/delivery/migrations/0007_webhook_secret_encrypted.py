"""Webhook secrets were stored in clear: the column becomes an EncryptedTextField and every
existing secret is encrypted in place with the current FIELD_ENCRYPTION_KEYS key (DESIGN.md
invariant 7). Going back decrypts them into the old column."""

from django.db import migrations, models

import apps.audit.encryption


def encrypt_existing(apps, schema_editor):
    WebhookIntegration = apps.get_model("delivery", "WebhookIntegration")
    # A clear value reads back as itself; saving it through the field encrypts it.
    for pk, secret in WebhookIntegration.objects.values_list("pk", "secret"):
        if secret:
            WebhookIntegration.objects.filter(pk=pk).update(secret=secret)


def decrypt_existing(apps, schema_editor):
    WebhookIntegration = apps.get_model("delivery", "WebhookIntegration")
    table = schema_editor.quote_name(WebhookIntegration._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        for pk, secret in WebhookIntegration.objects.values_list("pk", "secret"):
            cursor.execute(f"UPDATE {table} SET secret = %s WHERE id = %s", [secret, pk])


class Migration(migrations.Migration):
    dependencies = [
        ("delivery", "0006_evidence_kind_migrations"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookintegration",
            name="secret",
            field=apps.audit.encryption.EncryptedTextField(
                help_text="GitHub webhook secret or GitLab secret token (encrypted at rest)"),
        ),
        # Backwards this runs before the column is narrowed again: clear values fit it.
        migrations.RunPython(encrypt_existing, decrypt_existing),
    ]
