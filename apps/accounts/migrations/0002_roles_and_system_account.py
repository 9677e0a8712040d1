from django.db import migrations

ROLE_NAMES = ["requester", "approver", "cab_member", "release_manager", "auditor", "executive", "access_admin"]


def create_roles_and_system(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    User = apps.get_model("accounts", "User")
    for name in ROLE_NAMES:
        Group.objects.get_or_create(name=name)
    User.objects.get_or_create(
        username="system", defaults={"kind": "system", "is_active": False, "first_name": "Release Portal", "password": "!"}
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_roles_and_system, migrations.RunPython.noop)]
