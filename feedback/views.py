"""Receiving "Was this page helpful?" answers from the form at the end of each content page.

The form is part of published pages, which are rendered once and served to every visitor (pages/), so it holds
nothing per visitor: no CSRF token. `send` is therefore exempt from Django's token check and accepts only posts that
the browser says come from a page of this site (`same_site`: the Origin header, or the Referer without one). The
endpoint uses no cookie, session or account, so there is nothing a forged post could do in a visitor's name; the
check stops other sites from making their visitors' browsers post here (docs/security.md).

Spam: a hidden box that people never see (the honeypot), and a limit of FEEDBACK_RATE posts per client address
(django-ratelimit, counted in the cache under a keyed hash of the address, for one window). Anything refused is
answered with a page in the site's layout, with the status code, and stores nothing.
"""

import ipaddress
from urllib.parse import urlencode, urlsplit

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.http import is_same_domain
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django_ratelimit.core import get_usage

from .forms import FeedbackForm
from .models import Feedback
from .pages import public_page_title

DEFAULT_PORTS = {"http": "80", "https": "443"}


def _origin(url):
    """(scheme, host[:port]) of a URL or an Origin header, lower-cased, without a default port; None for "null"."""
    parts = urlsplit(url or "")
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname if port in (None, int(DEFAULT_PORTS[parts.scheme])) else f"{parts.hostname}:{port}"
    return parts.scheme, host


def same_site(request):
    """Whether the browser says this post comes from a page of this site: its Origin (every current browser sends
    one with a form post), else its Referer, is the site's own address (the request's, or SITE_URL) or one of
    CSRF_TRUSTED_ORIGINS. A post with neither is refused."""
    sent = request.META.get("HTTP_ORIGIN")
    origin = _origin(sent if sent is not None else request.META.get("HTTP_REFERER"))
    if origin is None:
        return False
    own = {_origin(f"{request.scheme}://{request.get_host()}"), _origin(settings.SITE_URL)}
    if origin in own:
        return True
    scheme, host = origin
    for trusted in settings.CSRF_TRUSTED_ORIGINS:  # as Django's CSRF check reads them: "https://*.example.org"
        trusted_scheme, _sep, pattern = trusted.lower().partition("://")
        if trusted_scheme == scheme and is_same_domain(host, pattern.lstrip("*")):
            return True
    return False


def client_key(group, request):
    """A keyed hash of the client's address (as the login throttle finds it, behind the proxy too): the rate
    limit's key. The address itself is never stored; an IPv6 client counts by its /64 network."""
    address = get_client_ip_address(request) or "unknown"
    try:
        ip = ipaddress.ip_address(address)
        if ip.version == 6:
            address = str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    except ValueError:
        pass
    return salted_hmac("mesoinfo.feedback.rate-limit", address).hexdigest()


def refused(request, status, reason, form=None, **context):
    """The page that says why nothing was sent, with the status code."""
    page = form.data.get("page") if form is not None else None
    title = public_page_title(page) if page else None
    context = {"reason": reason, "form": form, "page": page if title else None, "page_title": title, **context}
    return render(request, "feedback/refused.html", context, status=status)


@csrf_exempt  # the form is in pages served alike to everyone: same_site() instead of a token
@never_cache
def send(request):
    if request.method != "POST":
        response = refused(request, 405, "method")
        response["Allow"] = "POST"
        return response
    form = FeedbackForm(request.POST)
    if not same_site(request):
        return refused(request, 403, "cross_site", form)
    usage = get_usage(
        request, group="feedback", key=client_key, rate=settings.FEEDBACK_RATE, method="POST", increment=True
    )
    if usage is not None and usage["should_limit"]:
        wait = max(usage["time_left"], 1)
        response = refused(request, 429, "too_many", form, minutes=(wait + 59) // 60)
        response["Retry-After"] = str(wait)
        return response
    if form.is_trap:
        return refused(request, 400, "trap", form)
    if not form.is_valid():
        reason = "unknown_page" if "page" in form.errors else "invalid"
        return refused(request, 400, reason, form)
    data = form.cleaned_data
    Feedback.objects.create(page=data["page"], helpful=data["helpful"] == "yes", comment=data["comment"].strip())
    response = HttpResponseRedirect(f"{reverse('feedback:thanks')}?{urlencode({'page': data['page']})}")
    response.status_code = 303  # See Other: the thank-you page is fetched with GET; reloading it sends nothing again
    return response


@never_cache
def thanks(request):
    page = request.GET.get("page")
    title = public_page_title(page)
    return render(request, "feedback/thanks.html", {"page": page if title else None, "page_title": title})
