"""Citation integrity across all content: what `check_citations` reports.

Works on every model that cites (CitingModel subclasses) and every relation to
Reference, found through the app registry, so this app never imports the apps
that cite it.
"""

import re
from collections import defaultdict
from dataclasses import asdict, dataclass

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from .citations import find_keys
from .models import CitingModel, Reference, normalise_title

ERROR, WARNING = "error", "warning"
REQUIRED_FIELDS = ["authors", "title", "source", "year"]


@dataclass
class Finding:
    level: str
    category: str
    message: str
    object: str
    field: str
    admin_url: str

    def as_dict(self):
        return asdict(self)


def admin_url(obj):
    try:
        return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return ""


def label(obj):
    return f"{obj._meta.verbose_name} “{obj}”"


def citing_models():
    return [model for model in apps.get_models() if issubclass(model, CitingModel)]


def normalise_doi(doi):
    return re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi.strip(), flags=re.I).lower()


def check_citations():
    findings = []
    references = list(Reference.objects.all())
    known = {ref.key: ref for ref in references}

    for model in citing_models():
        for obj in model.objects.all():
            for field in model.markdown_fields:
                for key in find_keys(getattr(obj, field)):
                    if key in known:
                        continue
                    findings.append(
                        Finding(
                            ERROR,
                            "unknown-key",
                            f"cites [@{key}], which is not a reference key",
                            label(obj),
                            field,
                            admin_url(obj),
                        )  # fmt: skip
                    )

    used = {ref.pk for ref in references if ref.used_by()}
    for ref in references:
        if ref.pk not in used:
            findings.append(Finding(WARNING, "uncited", "is not cited anywhere", label(ref), "", admin_url(ref)))
        else:
            missing = [name for name in REQUIRED_FIELDS if not getattr(ref, name)]
            if missing:
                findings.append(
                    Finding(
                        ERROR,
                        "incomplete",
                        f"is cited but has no {', '.join(missing)}",
                        label(ref),
                        ", ".join(missing),
                        admin_url(ref),
                    )  # fmt: skip
                )

    findings += _duplicates(references)
    return findings


def _duplicates(references):
    groups = defaultdict(list)
    for ref in references:
        if ref.title:
            groups[("title", normalise_title(ref.title))].append(ref)
        if ref.doi:
            groups[("DOI", normalise_doi(ref.doi))].append(ref)
        if ref.pmid:
            groups[("PMID", ref.pmid.strip().lstrip("0"))].append(ref)
    findings = []
    for (kind, _value), refs in groups.items():
        if len(refs) < 2:
            continue
        keys = ", ".join(ref.key for ref in refs)
        for ref in refs:
            findings.append(
                Finding(
                    ERROR,
                    "duplicate",
                    f"looks like the same work as {keys} (same {kind})",
                    label(ref),
                    "",
                    admin_url(ref),
                )  # fmt: skip
            )
    return findings
