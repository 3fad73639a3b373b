"""Back up all content and its history to one JSON file.

The file is in Django's fixture format (as `dumpdata --natural-foreign` writes it), so
`restore_content` (or plain `loaddata`) reads it into any migrated database, SQLite or
PostgreSQL. It holds:

- every record of the `references` and `treatments` apps, their history included (the
  historical models live in the same apps), but not what is derived from them and rebuilt
  on restore (the search index) or what is not content (the page-cache generation counter);
- the revisions, published page versions and registry studies, and readers' answers to "Was this page
  helpful?" (feedback, which holds nothing about the reader);
- the user accounts and groups, so the history's authors and the medical reviewers survive.
  Users keep their ids; groups are matched by name (migrations create them in every database).

Not included: content types and permissions (referred to by natural key, recreated by
`migrate`), sessions, login-throttling records, and uploaded images (back up MEDIA_ROOT too).

Differences from `dumpdata`: times keep their microseconds (dumpdata rounds them to
milliseconds, which would reorder history saved within the same millisecond), the file is
written to a temporary name and renamed when complete (a failed backup never leaves a
truncated file behind), it is readable by its owner only (it contains password hashes and
e-mail addresses), and on PostgreSQL it is read in one repeatable-read transaction, so it is
consistent even while editors are saving.
"""

import datetime
import os
import tempfile
from collections import Counter
from pathlib import Path

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.serializers.json import Serializer as JSONSerializer
from django.db import connection, transaction
from django.utils import timezone

CONTENT_APPS = ("editorial", "references", "treatments", "registry", "pages", "feedback")
ACCOUNT_MODELS = ("auth.group", "auth.user")
# Rebuilt from the content on restore (search index), or not content at all (a counter that only grows).
DERIVED_MODELS = {"treatments.searchdocument"}
NOT_CONTENT = {"treatments.pagecachegeneration"}


def content_models():
    """Every model backed up from the content apps, historical models included."""
    return [
        model
        for label in CONTENT_APPS
        for model in apps.get_app_config(label).get_models()
        if model._meta.label_lower not in DERIVED_MODELS | NOT_CONTENT
    ]


def backup_models():
    """Accounts first (content refers to them by natural key), then content."""
    return [apps.get_model(label) for label in ACCOUNT_MODELS] + content_models()


def content_tables():
    """Tables holding content, its history and its search index (many-to-many tables included)."""
    return [
        model._meta.db_table
        for label in CONTENT_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.label_lower not in NOT_CONTENT
    ]


class FullPrecisionEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder, but times keep their microseconds (history is ordered by them)."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


class BackupSerializer(JSONSerializer):
    def handle_fk_field(self, obj, field):
        try:
            super().handle_fk_field(obj, field)
        except ObjectDoesNotExist:
            # History keeps foreign keys without database constraints, so a historical record may point at a
            # row deleted since (a reviewer's account, say). Keep the id it recorded instead of a natural key.
            self._current[field.name] = self._value_from_field(obj, field)

    def get_dump_object(self, obj):
        data = super().get_dump_object(obj)
        if obj._meta.label_lower == "auth.group":
            data.pop("pk", None)  # matched by name on restore: migrations give each database its own ids
        return data


def backup_objects(counts):
    """Every record to back up, model by model in primary-key order, with many-to-many fields prefetched."""
    for model in backup_models():
        many_to_many = [
            field.name for field in model._meta.many_to_many if field.remote_field.through._meta.auto_created
        ]
        if model._meta.label_lower == "auth.user":
            many_to_many.append("user_permissions__content_type")
        elif model._meta.label_lower == "auth.group":
            many_to_many.append("permissions__content_type")
        queryset = model._base_manager.order_by("pk").prefetch_related(*many_to_many)
        for obj in queryset.iterator(chunk_size=1000):
            counts[model._meta.label] += 1
            yield obj


def write_backup(path):
    """Write the backup to `path` (atomically); return {model label: record count}."""
    counts = Counter()
    descriptor, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            outermost = not connection.in_atomic_block
            with transaction.atomic():
                if outermost and connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                BackupSerializer().serialize(
                    backup_objects(counts),
                    stream=stream,
                    indent=1,
                    use_natural_foreign_keys=True,
                    cls=FullPrecisionEncoder,
                )
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return counts


def describe(counts):
    history = sum(n for label, n in counts.items() if ".Historical" in label)
    users = counts.get("auth.User", 0)
    content = sum(counts.values()) - history - users - counts.get("auth.Group", 0)
    return f"{content} content records, {history} history records, {users} users, {counts.get('auth.Group', 0)} groups"


class Command(BaseCommand):
    help = (
        "Back up all content, its history, and the user accounts and groups to one JSON file "
        "(restore it with restore_content). Uploaded images are not included: back up MEDIA_ROOT as well. "
        "The file contains password hashes and e-mail addresses: keep it private."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            "-o",
            metavar="FILE",
            help="File to write; default: mesoinfo-backup-<UTC date and time>.json in the current folder.",
        )

    def handle(self, *args, output=None, **options):
        path = Path(output or f"mesoinfo-backup-{timezone.now():%Y%m%d-%H%M%S}.json")
        if path.is_dir():
            raise CommandError(f"{path} is a folder; give a file name, e.g. --output {path / 'backup.json'}")
        if not path.parent.is_dir():
            raise CommandError(f"Folder {path.parent} does not exist.")
        try:
            counts = write_backup(path)
        except OSError as error:
            raise CommandError(f"Could not write {path}: {error}") from error
        if options["verbosity"]:
            self.stdout.write(self.style.SUCCESS(f"Backed up {describe(counts)} to {path}."))
            self.stdout.write("Uploaded images are not in this file: back up MEDIA_ROOT as well.")
