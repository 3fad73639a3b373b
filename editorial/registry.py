"""The publishable models, and how a record becomes a revision and back.

One line per model in PUBLISHABLE. `parts` are the rows that belong to a record and are edited with it
(a trial's outcome rows): they are stored in its revisions and published with it. `parent` names a
foreign key to the record a section belongs to (not a link between pages).
"""

import json
from dataclasses import dataclass

from django.apps import apps as global_apps
from django.core.serializers.json import DjangoJSONEncoder


@dataclass(frozen=True)
class Entry:
    label: str
    parts: tuple = ()
    parent: str | None = None


PUBLISHABLE = (
    Entry("treatments.Overview", parts=("next_links",)),
    Entry("treatments.TreatmentOption", parent="overview"),
    Entry("treatments.Question", parent="overview"),
    Entry("treatments.Drug"),
    Entry("treatments.Regimen", parts=("regimen_drugs",)),
    Entry("treatments.Trial", parts=("outcomes",)),
    Entry("treatments.GlossaryTerm"),
    Entry("treatments.ReviewerProfile"),
    Entry("references.Reference"),
)

# Kept by the workflow, never by an editor's draft; `cites` is derived from the text on every save.
WORKFLOW_FIELDS = {
    "status",
    "version",
    "reviewed_by",
    "reviewed_on",
    "review_due",
    "last_published_at",
    "live_revision",
    "draft_revision",
    "cites",
}


def publishable_models(apps=global_apps):
    """The publishable model classes (of `apps`, e.g. a migration's historical apps, where a model added by a later
    migration does not exist yet)."""
    models = []
    for entry in PUBLISHABLE:
        try:
            models.append(apps.get_model(entry.label))
        except LookupError:
            if apps is global_apps:
                raise
    return models


def entry_for(model):
    label = model._meta.label_lower
    return next((entry for entry in PUBLISHABLE if entry.label.lower() == label), None)


def is_publishable(model):
    return entry_for(model) is not None


def owner_of_part(model, apps=global_apps):
    """(owner model, name of the part's foreign key to it) when `model` is a part, else None."""
    for owner in publishable_models(apps):
        for part in entry_for(owner).parts:
            relation = owner._meta.get_field(part)
            if relation.related_model._meta.label_lower == model._meta.label_lower:
                return owner, relation.field.name
    return None


def content_fields(model):
    """The fields a revision holds: every concrete and many-to-many field but the workflow's."""
    fields = []
    for field in [*model._meta.concrete_fields, *model._meta.many_to_many]:
        if field.primary_key or field.name in WORKFLOW_FIELDS:
            continue
        if field.many_to_many and not field.remote_field.through._meta.auto_created:
            continue  # an explicit through model is a part (Regimen's ordered drugs)
        fields.append(field)
    return fields


def _part_fields(model, owner_fk):
    return [field for field in model._meta.concrete_fields if not field.primary_key and field.name != owner_fk]


def _normalised(data):
    """What the JSON column gives back, so a fresh snapshot compares equal to a stored one."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _value(obj, field):
    if field.many_to_many:
        return sorted(getattr(obj, field.name).values_list("pk", flat=True))
    return getattr(obj, field.attname)


def snapshot(obj):
    """The record as stored now, with its parts: {"fields": {...}, "parts": {name: [{"pk", "fields"}]}}."""
    model = type(obj)
    entry = entry_for(model)
    data = {"fields": {field.name: _value(obj, field) for field in content_fields(model)}, "parts": {}}
    for part in entry.parts:
        relation = model._meta.get_field(part)
        fields = _part_fields(relation.related_model, relation.field.name)
        data["parts"][part] = [
            {"pk": row.pk, "fields": {field.name: _value(row, field) for field in fields}}
            for row in getattr(obj, part).order_by("pk")
        ]
    return _normalised(data)


def _set(obj, field, value):
    setattr(obj, field.attname, value if field.is_relation else field.to_python(value))


def apply(obj, data):
    """Write a revision's content onto `obj` (saved, with its many-to-many fields and parts).

    Fields the revision does not name (added since it was saved) keep their value; names no longer
    on the model are ignored. Parts keep their ids where they can, so forms and history follow them.
    """
    model = type(obj)
    fields = {field.name: field for field in content_fields(model)}
    many = {}
    for name, value in data["fields"].items():
        field = fields.get(name)
        if field is None:
            continue
        if field.many_to_many:
            many[name] = value
        else:
            _set(obj, field, value)
    obj.save()
    for name, ids in many.items():
        getattr(obj, name).set(ids)
    for part, rows in data.get("parts", {}).items():
        if part not in entry_for(model).parts:
            continue
        relation = model._meta.get_field(part)
        part_model, owner_fk = relation.related_model, relation.field.name
        part_fields = {field.name: field for field in _part_fields(part_model, owner_fk)}
        existing = {row.pk: row for row in getattr(obj, part).all()}
        kept = set()
        for item in rows:
            row = existing.get(item["pk"])
            new = row is None
            if new:
                row = part_model(**{owner_fk: obj})
                if not part_model._default_manager.filter(pk=item["pk"]).exists():
                    row.pk = item["pk"]  # keep the id a form showed for it
            for name, value in item["fields"].items():
                if name in part_fields:
                    _set(row, part_fields[name], value)
            row.save(force_insert=new and row.pk is not None)
            kept.add(row.pk)
        for pk, row in existing.items():
            if pk not in kept:
                row.delete()


def _describe(field):
    return str(field.verbose_name)


def links(obj):
    """[(what, linked record)] for every publishable record `obj` shows or links to, parts included."""
    model = type(obj)
    entry = entry_for(model)
    found = []
    candidates = [f for f in content_fields(model) if f.name != entry.parent]
    if any(f.name == "cites" for f in model._meta.many_to_many):
        candidates.append(model._meta.get_field("cites"))
    for field in candidates:
        if not field.is_relation or not is_publishable(field.related_model):
            continue
        if field.many_to_many:
            found += [(_describe(field), target) for target in getattr(obj, field.name).all()]
        else:
            target = getattr(obj, field.name)
            if target is not None:
                found.append((_describe(field), target))
    for part in entry.parts:
        relation = model._meta.get_field(part)
        for field in _part_fields(relation.related_model, relation.field.name):
            if field.is_relation and is_publishable(field.related_model):
                for row in getattr(obj, part).select_related(field.name):
                    target = getattr(row, field.name)
                    if target is not None:
                        found.append((f"{relation.related_model._meta.verbose_name}: {row}", target))
    return found


def linked_from(obj):
    """[(record, what)] for every publishable record that links to `obj` (the reverse of `links`)."""
    found = []
    target_model = type(obj)
    for model in publishable_models():
        entry = entry_for(model)
        fields = [f for f in content_fields(model) if f.name != entry.parent]
        if any(f.name == "cites" for f in model._meta.many_to_many):
            fields.append(model._meta.get_field("cites"))
        for field in fields:
            if field.is_relation and field.related_model is target_model:
                found += [(source, _describe(field)) for source in model.objects.filter(**{field.name: obj}).distinct()]
        for part in entry.parts:
            relation = model._meta.get_field(part)
            for field in _part_fields(relation.related_model, relation.field.name):
                if field.is_relation and field.related_model is target_model:
                    owners = model.objects.filter(**{f"{part}__{field.name}": obj}).distinct()
                    found += [(owner, str(relation.related_model._meta.verbose_name)) for owner in owners]
    return found


def record_key(obj):
    return (obj._meta.label_lower, obj.pk)


def pages_showing(obj, depth=2):
    """The records with a public page (`get_absolute_url`) that show `obj`: itself, the page it is a section
    of, and pages that link to it, following links back `depth` steps (a reference → its trial → the overview)."""
    entry = entry_for(type(obj))
    if entry.parent:
        parent = getattr(obj, entry.parent)
        return pages_showing(parent, depth) if parent is not None else []
    pages = [obj] if hasattr(obj, "get_absolute_url") else []
    if depth:
        for source, _what in linked_from(obj):
            pages += [page for page in pages_showing(source, depth - 1) if page not in pages]
    return pages
