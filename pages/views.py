"""The archive of published pages (staff only) and the public record of changes (notes and feeds).

For any published page at /…/: /…/versions/ lists every version with its date, reviewers and notes;
/…/versions/N/ shows version N exactly as it was served, under an "archived version" banner
(?download=1: the exact bytes); /…/versions/diff/?from=A&to=B compares the text of two versions word by
word; /…/versions/?at=2027-03-03 opens the version that was live at the end of that day.
"""

import datetime
import html
import re
from functools import wraps

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.dateparse import parse_date
from django.utils.html import strip_tags

from mesoinfo.admin import word_diff

from .models import Page

_MAIN = re.compile(rb"<main\b[^>]*>")
_MAIN_TEXT = re.compile(r"<main\b[^>]*>(.*)</main>", re.S)
_BLOCK_END = re.compile(r"</(p|li|h[1-6]|tr|dd|dt|caption|div|section|table|ul|ol)>", re.I)
_TITLE = re.compile(rb"<title>(.*?)</title>", re.S)


def page_title(version):
    """The page's title as its HTML had it."""
    match = _TITLE.search(version.content.html) if version.content_id else None
    title = html.unescape(match.group(1).decode()) if match else version.page.path
    return title.removesuffix(" · MesoInfo").strip()


def visible_text(version):
    """What a reader sees of the page's main content: one line per paragraph, list item, heading or row."""
    if version.is_gone:
        return ""
    text = version.content.html.decode()
    match = _MAIN_TEXT.search(text)
    text = _BLOCK_END.sub(lambda m: m.group(0) + "\n", match.group(1) if match else text)
    lines = [" ".join(html.unescape(strip_tags(line)).split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def _page(page_path):
    return get_object_or_404(Page, path=f"/{page_path}")


def staff_only(view):
    """The archive is for staff; anyone else gets the site's 404 (nothing public names the admin)."""

    @wraps(view)
    def archive_view(request, *args, **kwargs):
        if not (request.user.is_active and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return archive_view


def _private(response):
    add_never_cache_headers(response)
    patch_cache_control(response, private=True)
    return response


@staff_only
def archive(request, page_path):
    page = _page(page_path)
    versions = page.versions.select_related("content").order_by("-number")
    at = request.GET.get("at")
    if at:
        day = parse_date(at)
        if day is None:
            raise Http404("Give the date as YYYY-MM-DD.")
        end_of_day = timezone.make_aware(datetime.datetime.combine(day, datetime.time.max))
        live_then = versions.filter(went_live_at__lte=end_of_day).first()
        if live_then is None:
            context = {"page": page, "versions": versions, "not_yet": day}
            return _private(render(request, "pages/archive.html", context))
        return redirect(f"{request.path}{live_then.number}/?at={day.isoformat()}")
    return _private(render(request, "pages/archive.html", {"page": page, "versions": versions}))


@staff_only
def version_view(request, page_path, number):
    page = _page(page_path)
    version = get_object_or_404(page.versions.select_related("content"), number=number)
    if version.is_gone:
        context = {"page": page, "version": version}
        return _private(render(request, "pages/gone.html", context, status=404))
    content = version.content.html
    if request.GET.get("download"):
        response = HttpResponse(content, content_type="text/html; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{page.path.strip("/").replace("/", "-") or "home"}-v{number}.html"'
        )
        return _private(response)
    following = page.versions.filter(number__gt=number).order_by("number").first()
    banner = render_to_string(
        "pages/_archived_banner.html",
        {
            "page": page,
            "version": version,
            "until": following.went_live_at if following else None,
            "at": request.GET.get("at"),
        },
        request=request,
    ).encode()
    response = HttpResponse(_MAIN.sub(lambda m: m.group(0) + banner, content, count=1))
    for name, value in version.headers:
        if name.lower() in ("content-type", "content-language"):
            response[name] = value
    return _private(response)


@staff_only
def diff_view(request, page_path):
    page = _page(page_path)
    versions = page.versions.select_related("content")
    try:
        old = versions.get(number=int(request.GET.get("from", "")))
        new = versions.get(number=int(request.GET.get("to", "")))
    except (ValueError, page.versions.model.DoesNotExist) as error:
        raise Http404("Choose two versions of this page.") from error
    if old.number > new.number:
        old, new = new, old
    context = {"page": page, "old": old, "new": new, "diff": word_diff(visible_text(old), visible_text(new))}
    return _private(render(request, "pages/diff.html", context))


def page_updates(request, slug):
    """Every change note for readers that an overview page has had, newest first (its "All updates" link)."""
    page = get_object_or_404(Page.objects.select_related("current__content"), path=f"/treatment/{slug}/")
    if page.current is None or page.current.is_gone:
        raise Http404
    versions = page.versions.filter(listed=True).order_by("-went_live_at")
    context = {"page": page, "title": page_title(page.current), "versions": versions}
    return render(request, "pages/updates.html", context)
