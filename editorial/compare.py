"""Word-level comparison of two versions of a record (a revision against live, or two revisions).

Markdown fields are compared as readers see them (rendered to text), with the Markdown itself beside it, where
changes to citations and links show.
"""

from django.utils.translation import gettext as _
from markdownx.models import MarkdownxField

from mesoinfo.admin import word_diff
from mesoinfo.markdown import plain_text

from . import registry


def _display(field, value):
    if value in (None, "", []):
        return ""
    if field.many_to_many or field.is_relation:
        ids = value if field.many_to_many else [value]
        found = {obj.pk: str(obj) for obj in field.related_model._default_manager.filter(pk__in=ids)}
        return ", ".join(found.get(pk, f"#{pk}") for pk in ids)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def _is_text(field):
    return field.get_internal_type() in ("CharField", "TextField") and not field.choices and not field.is_relation


def changes(model, old, new):
    """[{"label", "diff" (HTML) or "old"/"new"}] for every field and part that differs between two snapshots."""
    old = old or {"fields": {}, "parts": {}}
    found = []
    for field in registry.content_fields(model):
        before, after = old["fields"].get(field.name), new["fields"].get(field.name)
        if before == after:
            continue
        if isinstance(field, MarkdownxField):  # what readers see; the Markdown too, for citations and links
            rendered = word_diff(plain_text(before or ""), plain_text(after or ""))
            found.append(
                {"label": field.verbose_name, "diff": rendered, "source": word_diff(before or "", after or "")}
            )
        elif _is_text(field):
            found.append({"label": field.verbose_name, "diff": word_diff(before or "", after or "")})
        else:
            found.append(
                {
                    "label": field.verbose_name,
                    "diff": None,
                    "old": _display(field, before),
                    "new": _display(field, after),
                }
            )
    for part in registry.entry_for(model).parts:
        relation = model._meta.get_field(part)
        part_fields = [f for f in relation.related_model._meta.concrete_fields if f.name in _part_names(part, new, old)]
        before = "\n".join(_part_line(part_fields, row) for row in old.get("parts", {}).get(part, []))
        after = "\n".join(_part_line(part_fields, row) for row in new.get("parts", {}).get(part, []))
        if before != after:
            found.append({"label": relation.related_model._meta.verbose_name_plural, "diff": word_diff(before, after)})
    return found


def _part_names(part, *snapshots):
    names = []
    for snapshot in snapshots:
        for row in (snapshot or {}).get("parts", {}).get(part, []):
            names += [name for name in row["fields"] if name not in names]
    return names


def _part_line(fields, row):
    values = [_display(field, row["fields"].get(field.name)) for field in fields if field.name != "position"]
    return " — ".join(value for value in values if value)
