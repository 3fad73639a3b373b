"""“Was this page helpful?” (feedback/): a plain HTML form at the end of every content page, posted without
JavaScript, working in the stored pages that every visitor is served; spam, floods, cross-site posts and bad input
are refused with a page that says why, and store nothing; nothing about the reader is stored."""

import datetime
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import time_machine
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client, RequestFactory

from editorial.workflow import editing
from feedback.models import Feedback
from feedback.views import client_key
from pages.models import Page, PageVersion
from tests.factories import make_drug, make_overview, make_section, make_trial, publish_drafts
from treatments.models import GlossaryTerm, Status

pytestmark = pytest.mark.django_db

SITE = "http://testserver"  # SITE_URL in the test settings (pyproject.toml)
ADDRESS = "198.51.100.23"


class Forms(HTMLParser):
    """The forms of a page as a browser without JavaScript sees them: action, method, and each field's name,
    type and value (radio buttons: one entry each)."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action"), "method": attrs.get("method"), "fields": []})
        elif tag in ("input", "textarea", "button") and self.forms and attrs.get("name"):
            self.forms[-1]["fields"].append((attrs["name"], attrs.get("type", tag), attrs.get("value", "")))


def feedback_form(html):
    parser = Forms()
    parser.feed(html)
    (form,) = [f for f in parser.forms if f["action"] == "/feedback/"]
    return form


def browser_post(form, answer, comment="", client=None, **headers):
    """Submit `form` as a browser does: its hidden fields as they are, one radio button ticked, the comment typed
    in, the honeypot left empty; the Origin header a browser sends with a form post."""
    data = {name: value for name, kind, value in form["fields"] if kind == "hidden"}
    assert ("helpful", "radio", answer) in form["fields"]
    data.update(helpful=answer, comment=comment, website="")
    headers.setdefault("HTTP_ORIGIN", SITE)
    headers.setdefault("REMOTE_ADDR", ADDRESS)
    return (client or Client(enforce_csrf_checks=True)).post(form["action"], data, **headers)


def post(page, helpful="yes", comment="", client=None, **headers):
    data = {"page": page, "helpful": helpful, "comment": comment, "website": ""}
    data.update(headers.pop("data", {}))
    headers.setdefault("HTTP_ORIGIN", SITE)
    headers.setdefault("REMOTE_ADDR", ADDRESS)
    return (client or Client(enforce_csrf_checks=True)).post("/feedback/", data, **headers)


def main_text(response):
    html = response.content.decode()
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def assert_site_page(response, status):
    """A whole page in the site's layout, never kept by a cache."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert '<main id="main"' in html and 'class="site-footer"' in html and "Skip to main content" in html
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


@pytest.fixture
def overview():
    page = make_overview(title="Stage IV", slug="stage-iv", intro="About this cancer.")
    make_section(page, heading="Chemotherapy", body="Drugs kill cancer cells.")
    return page


# --- it works without JavaScript, on every content page, and from the stored page ----------------------------


def test_a_plain_form_post_is_stored_and_answered_with_a_thank_you_page_linking_back(overview):
    url = overview.get_absolute_url()
    form = feedback_form(Client().get(url).content.decode())
    assert form["method"] == "post"
    response = browser_post(form, "no", "The word 'pleura' needs\r\na simpler explanation.")
    assert response.status_code == 303  # See Other: reloading the thank-you page sends nothing again
    thanks = Client().get(response["Location"])
    assert_site_page(thanks, 200)
    assert "Thank you for your feedback" in main_text(thanks)
    assert f'<a href="{url}">Back to “Stage IV”</a>' in thanks.content.decode()
    (stored,) = Feedback.objects.all()
    assert (stored.page, stored.helpful, stored.comment) == (
        url,
        False,
        "The word 'pleura' needs\na simpler explanation.",
    )


def test_nothing_about_the_reader_is_stored(overview):
    response = post(overview.get_absolute_url(), HTTP_USER_AGENT="Reader's browser 1.0", REMOTE_ADDR=ADDRESS)
    assert response.status_code == 303 and not response.cookies
    assert [field.name for field in Feedback._meta.get_fields()] == ["id", "page", "helpful", "comment", "created"]
    stored = Feedback.objects.values().get()
    assert ADDRESS not in repr(stored) and "browser" not in repr(stored)
    # The rate limit's count is kept in the cache under a hash of a keyed hash of the address, never the address.
    local = caches["default"]
    assert isinstance(local, LocMemCache)  # the test settings' cache, whose entries can be listed
    entries = repr(list(local._cache.items()))
    keyed = client_key("feedback", RequestFactory().post("/feedback/", REMOTE_ADDR=ADDRESS))
    assert len(local._cache) >= 1 and ADDRESS not in entries and keyed not in entries


@pytest.mark.parametrize("kind", ["overview", "drug", "trial", "glossary"])
def test_every_content_page_has_the_form_and_it_posts(overview, kind):
    if kind == "overview":
        url = overview.get_absolute_url()
    elif kind == "drug":
        url = make_drug(generic_name="pemetrexed", slug="pemetrexed").get_absolute_url()
    elif kind == "trial":
        url = make_trial(title="The phase III study", slug="phase-3").get_absolute_url()
    else:
        GlossaryTerm.objects.create(term="pleura", slug="pleura", definition="The lining.", status=Status.PUBLISHED)
        url = "/glossary/"
    form = feedback_form(Client().get(url).content.decode())
    assert ("page", "hidden", url) in form["fields"]
    assert browser_post(form, "yes").status_code == 303
    assert Feedback.objects.get().page == url


def test_the_form_in_the_stored_page_posts_and_the_page_holds_nothing_per_visitor(overview):
    """The page is rendered once at publish and served as stored to everyone: the form in those bytes posts, with
    CSRF checks on (as browsers meet them)."""
    with editing(None, overview) as session:
        session.record.summary = "A guide, now reviewed."
        session.record.save()
    publish_drafts(overview)
    url = overview.get_absolute_url()
    stored = Page.objects.get(path=url).current
    first, second = Client().get(url), Client().get(url)
    assert first.content == second.content == stored.content.html  # served as stored, the same for everyone
    assert b"A guide, now reviewed." in first.content
    html = first.content.decode()
    assert "csrfmiddlewaretoken" not in html and not first.cookies
    versions = PageVersion.objects.count()
    response = browser_post(feedback_form(html), "yes", "Clear, thank you.")
    assert response.status_code == 303
    assert Feedback.objects.get().comment == "Clear, thank you."
    assert PageVersion.objects.count() == versions and Client().get(url).content == first.content


def test_the_form_posts_from_a_page_served_by_the_page_cache(overview, settings):
    settings.PUBLISHED_PAGES = False  # every page rendered on request, and kept in the page cache
    url = overview.get_absolute_url()
    first = Client().get(url)
    Feedback.objects.create(page=url, helpful=True)  # (the page cache does not care)
    assert Client().get(url).content == first.content
    assert browser_post(feedback_form(first.content.decode()), "no").status_code == 303
    assert Feedback.objects.count() == 2


def test_staff_previews_post_like_anyone_and_are_not_named(overview, admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    form = feedback_form(client.get(overview.get_absolute_url()).content.decode())
    assert browser_post(form, "yes", client=client).status_code == 303
    assert "admin" not in repr(Feedback.objects.values().get())


# --- cross-site posts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_ORIGIN": "http://testserver.evil.example"},
        {"HTTP_ORIGIN": "https://testserver"},  # another scheme is another origin
        {"HTTP_ORIGIN": "http://testserver:8080"},
        {"HTTP_ORIGIN": "null"},  # a sandboxed frame or a redirected post
        {"HTTP_ORIGIN": "https://evil.example", "HTTP_REFERER": f"{SITE}/treatment/stage-iv/"},
        {"HTTP_REFERER": "https://evil.example/page.html"},
        {},  # neither: refused
    ],
    ids=["other-site", "lookalike", "scheme", "port", "null", "origin-wins", "referer-only", "no-headers"],
)
def test_posts_from_another_site_are_refused_and_store_nothing(overview, headers):
    url = overview.get_absolute_url()
    client = Client(enforce_csrf_checks=True)
    response = client.post("/feedback/", {"page": url, "helpful": "yes", "comment": "Forged."}, **headers)
    assert_site_page(response, 403)
    assert "Feedback can only be sent from the form on our own pages" in main_text(response)
    assert f'<a href="{url}">Back to “Stage IV”</a>' in response.content.decode()
    assert not Feedback.objects.exists()


def test_the_referer_is_enough_without_an_origin_and_trusted_origins_count(overview, settings):
    url = overview.get_absolute_url()
    client = Client(enforce_csrf_checks=True)
    data = {"page": url, "helpful": "yes"}
    assert client.post("/feedback/", data, HTTP_REFERER=f"{SITE}{url}").status_code == 303
    assert client.post("/feedback/", data, HTTP_ORIGIN="HTTP://TestServer:80").status_code == 303  # same origin
    assert client.post("/feedback/", data, HTTP_ORIGIN="https://www.example.org").status_code == 403
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.org"]
    assert client.post("/feedback/", data, HTTP_ORIGIN="https://www.example.org").status_code == 303
    assert client.post("/feedback/", data, HTTP_ORIGIN="http://www.example.org").status_code == 403
    assert Feedback.objects.count() == 3


def test_the_site_address_is_accepted_behind_a_proxy_that_rewrites_the_host(overview, settings):
    settings.SITE_URL = "https://mesoinfo.example.org"
    settings.ALLOWED_HOSTS = ["app-1.internal"]
    client = Client(enforce_csrf_checks=True, HTTP_HOST="app-1.internal")
    data = {"page": overview.get_absolute_url(), "helpful": "yes"}
    assert client.post("/feedback/", data, HTTP_ORIGIN="https://mesoinfo.example.org").status_code == 303
    assert client.post("/feedback/", data, HTTP_ORIGIN="https://other.example.org").status_code == 403


# --- spam and floods --------------------------------------------------------------------------------------------


def test_a_filled_in_honeypot_stores_nothing(overview):
    response = post(overview.get_absolute_url(), "yes", "Buy now", data={"website": "http://spam.example"})
    assert_site_page(response, 400)
    assert "It looked as if a computer program filled in the form" in main_text(response)
    assert not Feedback.objects.exists()
    # The form shown again has the hidden box empty, so a person who sends it again gets through.
    form = feedback_form(response.content.decode())
    assert ("website", "text", "") in form["fields"]


def test_the_honeypot_is_hidden_from_people_but_not_from_programs(overview):
    html = Client().get(overview.get_absolute_url()).content.decode()
    trap = re.search(r'<p class="feedback-trap">(.*?)</p>', html).group(1)
    assert 'name="website"' in trap and 'tabindex="-1"' in trap and 'autocomplete="off"' in trap
    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "site.css").read_text()
    assert ".feedback-trap { display: none; }" in css


def test_a_flood_from_one_address_is_answered_429_and_stores_nothing_beyond_the_limit(overview, settings):
    settings.FEEDBACK_RATE = "3/h"
    url = overview.get_absolute_url()
    start = datetime.datetime(2027, 3, 3, 12, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        statuses = [post(url, comment=f"Comment {n}").status_code for n in range(6)]
        assert statuses == [303, 303, 303, 429, 429, 429]
        refused = post(url, comment="One more.")
        assert_site_page(refused, 429)
        assert 0 < int(refused["Retry-After"]) <= 3600
        assert "Please try again in" in main_text(refused)
        assert sorted(Feedback.objects.values_list("comment", flat=True)) == ["Comment 0", "Comment 1", "Comment 2"]
        # Bad input counts too: a flood of it cannot get round the limit.
        assert post(url, helpful="", REMOTE_ADDR="203.0.113.77").status_code == 400
        # Another address is not affected.
        assert post(url, comment="From elsewhere.", REMOTE_ADDR="203.0.113.8").status_code == 303
    with time_machine.travel(start + datetime.timedelta(hours=1, minutes=1), tick=False):
        assert post(url, comment="An hour later.").status_code == 303  # the count expired with its window
    assert Feedback.objects.count() == 5


def test_behind_the_proxy_each_client_address_has_its_own_limit(overview, settings):
    settings.FEEDBACK_RATE = "2/h"
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")  # BEHIND_PROXY=1
    settings.AXES_IPWARE_PROXY_COUNT = 0
    url = overview.get_absolute_url()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    first = [post(url, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy).status_code for _ in range(3)]
    second = [post(url, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy).status_code for _ in range(3)]
    assert first == second == [303, 303, 429]
    assert Feedback.objects.count() == 4


def test_the_rate_limit_key_is_a_keyed_hash_of_the_address_and_ipv6_counts_by_network(settings):
    def key(address):
        return client_key("feedback", RequestFactory().post("/feedback/", REMOTE_ADDR=address))

    assert key(ADDRESS) != key("198.51.100.24") and ADDRESS not in key(ADDRESS)
    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff::9") != key("2001:db8:1:3::1")
    before = key(ADDRESS)
    settings.SECRET_KEY = "another-secret-key-for-this-test"
    assert key(ADDRESS) != before  # keyed: the hash of a known address cannot be computed without the key


# --- bad input: a clear answer, nothing stored ------------------------------------------------------------------


def test_a_comment_of_1001_characters_is_refused_and_kept_in_the_form(overview):
    url = overview.get_absolute_url()
    response = post(url, "no", "x" * 1001)
    assert_site_page(response, 400)
    text = main_text(response)
    assert "Your comment is 1001 characters long. It can be at most 1000" in text and "Nothing was saved" in text
    assert "x" * 1001 in response.content.decode()  # the reader shortens it instead of typing it again
    assert 'value="no" checked' in response.content.decode()
    assert not Feedback.objects.exists()
    form = feedback_form(response.content.decode())
    assert browser_post(form, "no", "x" * 1000).status_code == 303  # the form shown again posts
    assert len(Feedback.objects.get().comment) == 1000


def test_line_breaks_count_as_one_character_as_browsers_count_them(overview):
    comment = "\r\n".join(["y" * 99] * 10)  # 990 letters and 9 line breaks: 999 for the browser
    assert post(overview.get_absolute_url(), "yes", comment).status_code == 303
    assert Feedback.objects.get().comment == comment.replace("\r\n", "\n")


@pytest.mark.parametrize("answer", ["", "maybe"])
def test_a_missing_or_unknown_answer_is_refused(overview, answer):
    response = post(overview.get_absolute_url(), answer, "A comment without an answer.")
    assert_site_page(response, 400)
    assert "Choose Yes or No." in main_text(response)
    assert "A comment without an answer." in response.content.decode()
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    "page",
    [
        "",
        "/treatment/no-such-page/",
        "/treatment/draft-page/",  # not public
        "/",  # a list, not a content page
        "/admin/",
        "/search/?q=stage",
        "https://evil.example/treatment/stage-iv/",
        "//evil.example/treatment/stage-iv/",
        "/treatment/stage-iv/" + "x" * 600,
    ],
)
def test_feedback_about_a_page_that_is_not_a_public_content_page_is_refused(overview, page):
    make_overview(slug="draft-page", status=Status.DRAFT)
    response = post(page, "yes", "About what?")
    assert_site_page(response, 400)
    assert "We could not tell which of our pages your feedback is about" in main_text(response)
    assert "evil.example" not in response.content.decode()
    assert not Feedback.objects.exists()


def test_the_address_answers_get_with_405_and_a_page(overview):
    response = Client().get("/feedback/")
    assert_site_page(response, 405)
    assert response["Allow"] == "POST"
    assert "at the end of each of our pages" in main_text(response)


def test_the_thank_you_page_links_back_only_to_a_public_page():
    assert "Back to" not in main_text(Client().get("/feedback/thanks/?page=https://evil.example/"))
    assert "Back to" not in main_text(Client().get("/feedback/thanks/"))


def test_the_feedback_address_is_not_for_search_engines(client):
    assert "Disallow: /feedback/" in client.get("/robots.txt").content.decode()
