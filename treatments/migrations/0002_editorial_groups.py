from django.db import migrations


def create_groups(apps, schema_editor):
    from treatments.roles import ensure_editorial_groups

    ensure_editorial_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("references", "0001_initial"),
        ("treatments", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
