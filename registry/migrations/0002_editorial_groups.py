from django.db import migrations


def update_groups(apps, schema_editor):
    # ensure_editorial_groups is idempotent: it adds the registry permissions (treatments/roles.py) to both groups.
    from treatments.roles import ensure_editorial_groups

    ensure_editorial_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial"), ("treatments", "0010_trial_nct_id")]

    operations = [migrations.RunPython(update_groups, migrations.RunPython.noop)]
