from django.db import migrations


def update_groups(apps, schema_editor):
    # ensure_editorial_groups is idempotent: it adds the glossary permissions to both groups.
    from treatments.roles import ensure_editorial_groups

    ensure_editorial_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("treatments", "0003_glossary_search")]

    operations = [migrations.RunPython(update_groups, migrations.RunPython.noop)]
