"""Every public page type is valid HTML, by the Nu HTML Checker (vnu.jar from node_modules, run offline).

Pages are rendered by the Django test client from the seed content, written to a temporary folder and
checked in one run of the checker (one JVM start). Needs `java` and `npm ci`; without them the test is
skipped, unless REQUIRE_BROWSER=1 (CI), where it fails.
"""

import json
import shutil
import subprocess

import pytest
from django.template.loader import render_to_string

from tests.a11y_pages import (
    NOT_FOUND,
    PAGES,
    VNU_JAR,
    load_seed,
    missing_tool,
    set_up_staff_preview,
)

pytestmark = pytest.mark.django_db


def render_pages(client):
    """{file name: HTML} for every public page type, the server error page, the feedback form's refusals, and the
    overview as staff preview it."""
    pages = {}
    for name, url in PAGES.items():
        response = client.get(url)
        expected = 404 if name in NOT_FOUND else 200
        assert response.status_code == expected, f"{url} answered {response.status_code}, expected {expected}"
        pages[f"{name}.html"] = response.content.decode()
    pages["500.html"] = render_to_string("500.html")  # as django.views.defaults.server_error renders it
    # "Was this page helpful?" answered with a problem: the form shown again with its errors, and the refusals.
    feedback = {"page": PAGES["overview"], "helpful": "", "comment": "x" * 1001, "website": ""}
    refusals = {
        "feedback-invalid": (feedback, {"HTTP_ORIGIN": "http://testserver"}, 400),
        "feedback-trap": ({**feedback, "website": "spam"}, {"HTTP_ORIGIN": "http://testserver"}, 400),
        "feedback-cross-site": (feedback, {"HTTP_ORIGIN": "https://evil.example"}, 403),
    }
    for name, (data, headers, status) in refusals.items():
        response = client.post("/feedback/", data, **headers)
        assert response.status_code == status, (name, response.status_code)
        pages[f"{name}.html"] = response.content.decode()
    client.force_login(set_up_staff_preview())
    response = client.get(PAGES["overview"])
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="preview-banner preview-changes"' in html and "A sentence waiting for review." in html
    assert "not public" in html
    pages["overview-staff-preview.html"] = response.content.decode()
    return pages


def describe(messages, sources):
    lines = []
    for message in messages:
        name = message.get("url", "").rsplit("/", 1)[-1]
        where = f"{name}:{message.get('lastLine', '?')}:{message.get('firstColumn', message.get('lastColumn', '?'))}"
        lines.append(f"- {where}: {message.get('message')}")
        extract = message.get("extract")
        if extract:
            lines.append(f"    {' '.join(extract.split())[:160]}")
        elif name in sources and message.get("lastLine"):
            lines.append(f"    {sources[name].splitlines()[message['lastLine'] - 1].strip()[:160]}")
    return "\n".join(lines)


def test_public_pages_are_valid_html(client, tmp_path):
    java = shutil.which("java")
    if java is None:
        missing_tool("java not found: install it with `apt-get install -y default-jre-headless`")
    if not VNU_JAR.exists():
        missing_tool(f"{VNU_JAR} not found: run `npm ci` in the project folder")

    load_seed()
    pages = render_pages(client)
    files = []
    for name, html in pages.items():
        path = tmp_path / name
        path.write_text(html, encoding="utf-8")
        files.append(str(path))

    result = subprocess.run(
        [java, "-Xss8m", "-jar", str(VNU_JAR), "--format", "json", "--errors-only", *files],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # vnu writes its JSON report to stderr; exit status 1 means "errors found".
    try:
        messages = json.loads(result.stderr)["messages"]
    except (ValueError, KeyError):
        pytest.fail(f"vnu.jar gave no JSON report (exit {result.returncode}):\n{result.stderr}\n{result.stdout}")
    errors = [message for message in messages if message.get("type") in ("error", "non-document-error")]
    assert errors == [], f"{len(errors)} HTML error(s) in {len(pages)} pages:\n{describe(errors, pages)}"
    assert result.returncode == 0, result.stderr
