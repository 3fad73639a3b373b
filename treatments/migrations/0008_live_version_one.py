"""Today's content becomes live version 1 of each record (issue: live and draft are separate).

- Live content (status published) keeps its row unchanged and gets revision 1, published: every
  public page stays byte-identical.
- Content published with a future "publish at" time becomes an approved revision scheduled for it.
- Content back in draft or review after being live had its unreviewed text on the row (the page
  said "We are updating this section"): the last published version is put back on the row from the
  history and goes live again; the unreviewed text becomes the working draft, still in review.
- Drafts and content in review that were never live become a working draft.
- Regimens, glossary terms, references and reviewer profiles had no status and were all public:
  they are live.
The existing history (django-simple-history) is kept as it is.
"""

from django.db import migrations
from django.utils import timezone

NEWLY_REVIEWED = {"treatments.regimen", "treatments.glossaryterm", "treatments.reviewerprofile", "references.reference"}
BATCH = 1000


def live_version_one(apps, schema_editor):
    from editorial import registry
    from treatments.roles import ensure_editorial_groups

    Revision = apps.get_model("editorial", "Revision")
    ContentType = apps.get_model("contenttypes", "ContentType")
    now = timezone.now()
    for model in registry.publishable_models(apps):
        opts = model._meta
        content_type, _created = ContentType.objects.get_or_create(app_label=opts.app_label, model=opts.model_name)
        history = apps.get_model(opts.app_label, f"Historical{model.__name__}")
        ids = list(model._default_manager.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), BATCH):
            for record in model._default_manager.filter(pk__in=ids[start : start + BATCH]):
                _convert(record, model, content_type, history, Revision, now, opts.label_lower in NEWLY_REVIEWED)
    ensure_editorial_groups(apps)


def _convert(record, model, content_type, history, Revision, now, newly_reviewed):
    from editorial import registry

    status = "published" if newly_reviewed else record.status
    publish_at = getattr(record, "publish_at", None)
    data = registry.snapshot(record)

    def revision(number, snapshot, state, **fields):
        return Revision.objects.create(
            content_type=content_type, object_id=record.pk, number=number, data=snapshot, state=state, **fields
        )

    update = {}
    if status == "published" and (publish_at is None or publish_at <= now):
        live = revision(1, data, "published", approved_by_id=record.reviewed_by_id, published_at=record.last_published_at)
        update = {"status": "published", "live_revision": live}
    elif status == "published":  # hidden until its publish-at time: approved and scheduled now
        draft = revision(
            1, data, "scheduled", approved_by_id=record.reviewed_by_id, approved_at=now, go_live_at=publish_at
        )
        update = {"status": "draft", "draft_revision": draft}
    elif status in ("draft", "in_review") and record.last_published_at is not None:
        state = "in_review" if status == "in_review" else "draft"
        last_live = history.objects.filter(id=record.pk, status="published").order_by("-history_date", "-history_id")
        last_live = last_live.first()
        if last_live is None:  # no history to restore from: the text waits for review, off the site
            draft = revision(1, data, state, submitted_at=now if state == "in_review" else None)
            update = {"status": "draft", "draft_revision": draft}
        else:
            for field in registry.content_fields(model):
                if not field.many_to_many:
                    setattr(record, field.attname, getattr(last_live, field.attname))
            model._default_manager.filter(pk=record.pk).update(
                **{f.attname: getattr(record, f.attname) for f in registry.content_fields(model) if not f.many_to_many}
            )
            live = revision(1, registry.snapshot(record), "published", published_at=record.last_published_at)
            draft = revision(2, data, state, submitted_at=now if state == "in_review" else None)
            update = {"status": "published", "live_revision": live, "draft_revision": draft}
    elif status in ("draft", "in_review"):
        draft = revision(1, data, status, submitted_at=now if status == "in_review" else None)
        update = {"status": "draft", "draft_revision": draft}
    else:  # archived: its last live version is kept, off the site
        live = revision(1, data, "published", published_at=record.last_published_at)
        update = {"status": "archived", "live_revision": live}
    model._default_manager.filter(pk=record.pk).update(**update)


def back_to_one_row(apps, schema_editor):
    """Reverse: the row is the content again; a working draft's text is lost only where it differs from live."""
    from editorial import registry

    Revision = apps.get_model("editorial", "Revision")
    for model in registry.publishable_models(apps):
        model._default_manager.update(live_revision=None, draft_revision=None)
    Revision.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("editorial", "0001_initial"),
        ("references", "0002_revisions"),
        ("treatments", "0007_revisions"),
    ]

    operations = [migrations.RunPython(live_version_one, back_to_one_row)]
