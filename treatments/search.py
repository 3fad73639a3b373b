"""Site search across overview pages, sections, drugs and trials.

On PostgreSQL: full-text search over a stored, weighted vector (titles above
keywords above body text) with ranking and highlighted snippets. On SQLite: a
simpler word match with the same interface and results page. Visibility is not
the index's business: results are resolved through `published()`.
"""

import re
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, Q
from django.utils.html import escape
from django.utils.safestring import mark_safe

from mesoinfo.markdown import plain_text

from .models import Drug, Overview, SearchDocument, TreatmentOption, Trial

MAX_QUERY_LENGTH = 200
MAX_TERMS = 10
RESULT_LIMIT = 50
CONFIG = "english"
# Snippet highlights are marked with characters no text contains, then the text is escaped.
_START, _STOP = "\x02", "\x03"
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def document_fields(obj):
    """(title, keywords, body) to index for one searchable object."""
    match obj:
        case Overview():
            return obj.title, f"{obj.stage_label} {obj.summary}", plain_text(obj.intro)
        case TreatmentOption():
            return obj.heading, f"{obj.get_modality_display()} {obj.overview.title}", plain_text(obj.body)
        case Drug():
            keywords = f"{obj.brand_names} {obj.drug_class}".replace(",", " ")
            return obj.generic_name, keywords, f"{plain_text(obj.how_it_works)} {plain_text(obj.approval_note)}"
        case Trial():
            treatment = obj.regimen.name if obj.regimen_id else ""
            keywords = f"{obj.get_phase_display()} {obj.design} {treatment} {obj.nct_id}"
            return obj.title, keywords, plain_text(obj.summary)
    raise TypeError(f"{type(obj).__name__} is not searchable")


def index_object(obj):
    """Store the object's current text for search (called on every save)."""
    title, keywords, body = document_fields(obj)
    content_type = ContentType.objects.get_for_model(obj)
    SearchDocument.objects.update_or_create(
        content_type=content_type,
        object_id=obj.pk,
        defaults={"title": title[:300], "keywords": keywords, "body": body},
    )
    if connection.vendor == "postgresql":
        SearchDocument.objects.filter(content_type=content_type, object_id=obj.pk).update(
            search_vector=SearchVector("title", weight="A", config=CONFIG)
            + SearchVector("keywords", weight="B", config=CONFIG)
            + SearchVector("body", weight="C", config=CONFIG)
        )


SEARCHABLE = (Overview, TreatmentOption, Drug, Trial)


def rebuild_index():
    count = 0
    for model in SEARCHABLE:
        for obj in model.objects.all():
            index_object(obj)
            count += 1
    return count


@dataclass
class Result:
    obj: object
    kind: str
    title: str
    url: str
    snippet: str


def clean_query(query):
    return _CONTROL_CHARS.sub(" ", query or "").strip()[:MAX_QUERY_LENGTH]


def search(query, limit=RESULT_LIMIT):
    """Published objects matching `query`, best first, with highlighted snippets."""
    query = clean_query(query)
    if not re.search(r"\w", query):
        return []
    if connection.vendor == "postgresql":
        documents = _postgres_documents(query, limit)
    else:
        documents = _simple_documents(query, limit)
    return _resolve(documents)


def _postgres_documents(query, limit):
    search_query = SearchQuery(query, search_type="websearch", config=CONFIG)
    documents = (
        SearchDocument.objects.filter(search_vector=search_query)
        .annotate(
            rank=SearchRank(F("search_vector"), search_query),
            headline=SearchHeadline(
                "body", search_query, config=CONFIG, start_sel=_START, stop_sel=_STOP, max_words=30, min_words=12
            ),
        )
        .order_by("-rank", "title")[: limit * 2]
    )
    return [(doc, _highlighted(doc.headline)) for doc in documents]


def _highlighted(text):
    escaped = escape(text)
    return mark_safe(escaped.replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308 - escaped above


def _simple_documents(query, limit):
    terms = [term for term in re.findall(r"\w+", query.lower()) if term][:MAX_TERMS]
    if not terms:
        return []
    condition = Q()
    for term in terms:
        condition &= Q(title__icontains=term) | Q(keywords__icontains=term) | Q(body__icontains=term)
    scored = []
    for doc in SearchDocument.objects.filter(condition)[:1000]:
        score = sum(
            3 * doc.title.lower().count(term) + 2 * doc.keywords.lower().count(term) + doc.body.lower().count(term)
            for term in terms
        )
        scored.append((score, doc))
    scored.sort(key=lambda pair: (-pair[0], pair[1].title))
    return [(doc, _simple_snippet(doc.body, terms)) for _, doc in scored[: limit * 2]]


def _simple_snippet(body, terms, width=90):
    lowered = body.lower()
    hits = [lowered.find(term) for term in terms if term in lowered]
    start = max(0, min(hits) - width) if hits else 0
    if start:  # begin at a word
        start = body.find(" ", start) + 1 or start
    text = body[start : start + 2 * width + 40]
    text = ("…" if start else "") + text + ("…" if start + len(text) < len(body) else "")
    pattern = re.compile("|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True)), re.I)
    marked = pattern.sub(lambda m: f"{_START}{m.group(0)}{_STOP}", text)
    return _highlighted(marked)


def _resolve(documents):
    """Keep only what the public may see, in rank order."""
    ids_by_type = {}
    for doc, _snippet in documents:
        ids_by_type.setdefault(doc.content_type_id, []).append(doc.object_id)
    visible = {}
    querysets = {
        Overview: Overview.objects.published(),
        TreatmentOption: TreatmentOption.objects.published()
        .filter(overview__in=Overview.objects.published())
        .select_related("overview"),
        Drug: Drug.objects.published(),
        Trial: Trial.objects.published(),
    }
    for model, queryset in querysets.items():
        content_type = ContentType.objects.get_for_model(model)
        for obj in queryset.filter(pk__in=ids_by_type.get(content_type.pk, [])):
            visible[(content_type.pk, obj.pk)] = obj
    results = []
    for doc, snippet in documents:
        obj = visible.get((doc.content_type_id, doc.object_id))
        if obj is not None:
            kind = "Section" if isinstance(obj, TreatmentOption) else obj._meta.verbose_name.capitalize()
            title = f"{obj.heading} — {obj.overview.title}" if isinstance(obj, TreatmentOption) else str(obj)
            results.append(Result(obj, kind, title, obj.get_absolute_url(), snippet or ""))
    return results[:RESULT_LIMIT]
