# Scheduled go-live now belongs to approved revisions (0008 moved any future publish_at there).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0008_live_version_one"),
    ]

    operations = [
        migrations.RemoveField(
            model_name='drug',
            name='publish_at',
        ),
        migrations.RemoveField(
            model_name='historicaldrug',
            name='publish_at',
        ),
        migrations.RemoveField(
            model_name='historicaloverview',
            name='publish_at',
        ),
        migrations.RemoveField(
            model_name='historicaltreatmentoption',
            name='publish_at',
        ),
        migrations.RemoveField(
            model_name='historicaltrial',
            name='publish_at',
        ),
        migrations.RemoveField(
            model_name='overview',
            name='publish_at',
        ),
        migrations.RemoveField(
            model_name='treatmentoption',
            name='publish_at',
        ),
        migrations.RemoveField(
            model_name='trial',
            name='publish_at',
        ),
    ]
