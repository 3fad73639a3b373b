"""Image uploads from the Markdown editor: checked by content, size-limited, stored under random names
with an extension derived from the content, and never served as a document.

Staff upload with a multipart POST to /markdownx/upload/ (the editor sends X-Requested-With).
With DEBUG off Django does not serve /media/ (the web server does, by file extension), so the
stored name's extension is what decides how a file is served; these tests check it, what
`mimetypes` makes of it, and that Django's own responses carry `X-Content-Type-Options: nosniff`.
"""

import io
import mimetypes
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.views.static import serve
from PIL import Image

from mesoinfo.editor import IMAGE_FORMATS

pytestmark = pytest.mark.django_db

UPLOAD = "/markdownx/upload/"
AJAX = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}
STORED_NAME = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.(jpg|png|gif|webp)$")
IMAGE_CODE = re.compile(r"^!\[\]\(/media/uploads/(?P<name>[^/()]+)\)$")
HTML = b"<!DOCTYPE html><html><body><script>alert(document.domain)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>'


def image_bytes(image_format, size=(12, 8)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, image_format)
    return buffer.getvalue()


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with(width, height, pixel_data):
    """A PNG with well-formed chunks (so Pillow's verify() passes) around the given pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(pixel_data))
        + _chunk(b"IEND", b"")
    )


def gif_html_polyglot():
    """A valid GIF that is also an HTML page: the markup sits in a GIF comment and after the trailer."""
    gif = image_bytes("GIF")
    comment = b"\x21\xfe" + bytes([len(HTML[:255])]) + HTML[:255] + b"\x00"
    trailer = gif.rindex(b"\x3b")
    return gif[:trailer] + comment + gif[trailer:] + HTML


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("uploader", is_staff=True))
    return client


@pytest.fixture
def uploads(settings):
    return Path(settings.MEDIA_ROOT) / django_settings.MARKDOWNX_MEDIA_PATH


def stored_files(folder):
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def upload(client, name, content, content_type, **headers):
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(UPLOAD, {"image": file}, **{**AJAX, **headers})


def stored_name(response):
    assert response.status_code == 200, response.content
    match = IMAGE_CODE.match(response.json()["image_code"])
    assert match, response.json()
    return match["name"]


# --- accepted: real images, whatever they are called or claim to be -----------------------------------------

ACCEPTED = [
    # (browser-side name, declared type, content, extension the content calls for)
    pytest.param("page.html", "image/png", image_bytes("PNG"), "png", id="png-named-html"),
    pytest.param("script.js", "image/png", image_bytes("PNG"), "png", id="png-named-js"),
    pytest.param("photo.png", "image/gif", image_bytes("PNG"), "png", id="png-declared-gif"),
    pytest.param("photo.png", "image/png", image_bytes("JPEG"), "jpg", id="jpeg-named-png"),
    pytest.param("drawing.svg", "image/webp", image_bytes("WEBP"), "webp", id="webp-named-svg"),
    pytest.param("x.php.png", "image/jpeg", image_bytes("GIF"), "gif", id="gif-double-extension"),
    pytest.param("x.html", "image/gif", gif_html_polyglot(), "gif", id="gif-html-polyglot"),
    pytest.param("noextension", "image/png", image_bytes("PNG"), "png", id="png-without-extension"),
]


@pytest.mark.parametrize(("name", "content_type", "content", "extension"), ACCEPTED)
def test_real_image_is_stored_under_a_random_name_with_the_contents_extension(
    staff_client, uploads, name, content_type, content, extension
):
    response = upload(staff_client, name, content, content_type)
    stored = stored_name(response)
    assert STORED_NAME.match(stored), stored
    assert stored.endswith(f".{extension}")
    assert Path(name).stem not in stored
    assert stored_files(uploads) == [stored]
    # The extension matches what the stored bytes are, and maps to an image type for any server.
    with Image.open(uploads / stored) as image:
        assert IMAGE_FORMATS[image.format][1] == extension
    guessed, _ = mimetypes.guess_type(stored)
    assert guessed == IMAGE_FORMATS[Image.registered_extensions()[f".{extension}"]][0]
    assert guessed.startswith("image/") and guessed != "image/svg+xml"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/json"


def test_same_file_twice_gets_two_different_names(staff_client, uploads):
    first = stored_name(upload(staff_client, "a.png", image_bytes("PNG"), "image/png"))
    second = stored_name(upload(staff_client, "a.png", image_bytes("PNG"), "image/png"))
    assert first != second and stored_files(uploads) == sorted([first, second])


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP", "GIF"])
def test_every_image_is_re_encoded_so_no_html_survives(staff_client, uploads, image_format):
    """Pillow re-encodes the pixels: trailing bytes, comments and text chunks are all dropped, GIFs included."""
    buffer = io.BytesIO()
    options = {"comment": HTML[:200]} if image_format in ("JPEG", "GIF") else {}
    Image.new("RGB", (12, 8), "red").save(buffer, image_format, **options)
    content = buffer.getvalue() + HTML
    stored = stored_name(upload(staff_client, "a.img", content, f"image/{image_format.lower()}"))
    data = (uploads / stored).read_bytes()
    assert b"<script" not in data and b"DOCTYPE" not in data
    with Image.open(uploads / stored) as image:
        assert image.format == image_format and image.size == (12, 8)


def test_gif_html_polyglot_is_stored_as_a_plain_gif(staff_client, uploads):
    gif = stored_name(upload(staff_client, "a.gif", gif_html_polyglot(), "image/gif"))
    assert b"<script" not in (uploads / gif).read_bytes() and b"<html" not in (uploads / gif).read_bytes()
    assert mimetypes.guess_type(gif)[0] == "image/gif"


def test_large_pictures_are_scaled_down_to_the_configured_size(staff_client, uploads):
    stored = stored_name(upload(staff_client, "wide.png", image_bytes("PNG", size=(2400, 600)), "image/png"))
    with Image.open(uploads / stored) as image:
        assert image.size == (1200, 300)


# --- refused: anything that is not a JPEG, PNG, GIF or WebP picture ---------------------------------------

REFUSED = [
    pytest.param("evil.png", "image/png", HTML, id="html-named-png"),
    pytest.param("evil.gif", "image/gif", b"GIF89a" + HTML, id="html-behind-gif-magic"),
    pytest.param("evil.png", "image/png", b"\x89PNG\r\n\x1a\n" + HTML, id="html-behind-png-signature"),
    pytest.param("evil.svg", "image/svg+xml", SVG, id="svg-declared-svg"),
    pytest.param("evil.png", "image/png", SVG, id="svg-named-png"),
    pytest.param("evil.svg", "image/png", image_bytes("PNG").replace(b"IEND", b"IENX"), id="png-broken-chunks"),
    pytest.param("evil.bmp", "image/png", image_bytes("BMP"), id="bmp-declared-png"),
    pytest.param("evil.tiff", "image/jpeg", image_bytes("TIFF"), id="tiff-declared-jpeg"),
    pytest.param("evil.ico", "image/png", image_bytes("ICO"), id="ico-declared-png"),
    pytest.param("doc.pdf", "image/png", b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n%%EOF", id="pdf-declared-png"),
    pytest.param("empty.png", "image/png", b"", id="empty"),
    # The browser's word is checked too: a real PNG declared as HTML is refused, not stored.
    pytest.param("page.png", "text/html", image_bytes("PNG"), id="png-declared-html"),
    pytest.param("page.png", "application/octet-stream", image_bytes("PNG"), id="png-declared-octet-stream"),
]


@pytest.mark.parametrize(("name", "content_type", "content"), REFUSED)
def test_non_images_are_refused_and_nothing_is_stored(staff_client, uploads, name, content_type, content):
    response = upload(staff_client, name, content, content_type)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json()  # an error message for the editor
    assert stored_files(uploads) == []


def test_size_limit_is_the_configured_one(staff_client, uploads):
    import markdownx.settings

    # django-markdownx reads its settings once at import: the limit it enforces is the project's.
    assert markdownx.settings.MARKDOWNX_UPLOAD_MAX_SIZE == django_settings.MARKDOWNX_UPLOAD_MAX_SIZE
    gif = image_bytes("GIF")
    at_limit = gif + b"\0" * (django_settings.MARKDOWNX_UPLOAD_MAX_SIZE - len(gif))
    stored = stored_name(upload(staff_client, "big.gif", at_limit, "image/gif"))
    assert (uploads / stored).stat().st_size < 1000  # re-encoded: the padding is gone

    over = upload(staff_client, "bigger.gif", at_limit + b"\0", "image/gif")
    assert over.status_code == 400
    assert "file size" in " ".join(over.json()["__all__"])
    assert stored_files(uploads) == [stored]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(png_with(30000, 30000, b"\0" * 64), "too large (max 5000×5000 px)", id="decompression-bomb"),
        pytest.param(png_with(6000, 10, b"\0" * 64), "too large (max 5000×5000 px)", id="one-side-too-long"),
        pytest.param(png_with(100, 100, b"\0" * 10), "not a picture we can read", id="truncated-pixel-data"),
    ],
)
def test_undecodable_or_huge_images_are_refused_with_a_clear_400(staff_client, uploads, content, message):
    staff_client.raise_request_exception = False
    response = upload(staff_client, "bomb.png", content, "image/png")
    assert response.status_code == 400
    assert message in " ".join(response.json()["__all__"])
    assert stored_files(uploads) == []


@pytest.mark.parametrize("who", ["anonymous", "staff"])
def test_request_bodies_over_the_limit_are_refused_before_they_are_read(request, settings, who):
    """A 100 MB body is answered 413 from its Content-Length alone: nothing reads it or writes it to disk."""

    class Unreadable(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the body was read")

        readline = read

    browser = request.getfixturevalue("client" if who == "anonymous" else "staff_client")
    request = {"REQUEST_METHOD": "POST", "PATH_INFO": UPLOAD, "CONTENT_TYPE": "multipart/form-data; boundary=x"}
    request.update(CONTENT_LENGTH=str(100 * 1024 * 1024), **{"wsgi.input": Unreadable()}, **AJAX)
    response = browser.request(**request)
    assert response.status_code == 413 and "too large" in response.content.decode()
    # Under the limits: anonymous small forms and staff uploads pass through to the view.
    small = {**request, "CONTENT_LENGTH": "10", "wsgi.input": io.BytesIO(b"--x--\r\n\r\n")}
    assert browser.request(**small).status_code == (403 if who == "anonymous" else 400)
    assert settings.ANONYMOUS_MAX_BODY_BYTES < settings.DATA_UPLOAD_MAX_MEMORY_SIZE < settings.MAX_REQUEST_BODY_BYTES


def test_invalid_upload_without_the_ajax_header_is_a_400(staff_client, uploads):
    staff_client.raise_request_exception = False
    response = staff_client.post(UPLOAD, {"image": SimpleUploadedFile("evil.png", HTML, content_type="image/png")})
    assert response.status_code == 400
    assert stored_files(uploads) == []


@pytest.mark.parametrize("who", ["anonymous", "logged-in non-staff"])
def test_only_staff_can_store_files(client, django_user_model, uploads, who):
    if who != "anonymous":
        client.force_login(django_user_model.objects.create_user("patient"))
    response = upload(client, "a.png", image_bytes("PNG"), "image/png")
    assert response.status_code == 403 and "Location" not in response
    assert stored_files(uploads) == []


# --- never served as HTML ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "content_type", "content", "extension"), ACCEPTED)
def test_stored_file_is_served_as_an_image_never_as_a_page(
    staff_client, client, uploads, name, content_type, content, extension
):
    stored = stored_name(upload(staff_client, name, content, content_type))

    # With DEBUG off Django does not serve uploads at all (the web server does, by extension)...
    media_url = f"/{django_settings.MEDIA_URL.strip('/')}/{django_settings.MARKDOWNX_MEDIA_PATH}{stored}"
    response = client.get(media_url)
    assert response.status_code == 404
    assert response["X-Content-Type-Options"] == "nosniff"

    # ...and any server that maps extensions to types, as Django's own static serving does, says image/*.
    request = RequestFactory().get(media_url)
    served = serve(request, f"{django_settings.MARKDOWNX_MEDIA_PATH}{stored}", document_root=uploads.parent)
    assert served["Content-Type"] in {"image/png", "image/jpeg", "image/gif", "image/webp"}
    assert served["Content-Type"] == mimetypes.guess_type(stored)[0]
    assert b"".join(served.streaming_content) == (uploads / stored).read_bytes()


def test_public_pages_and_upload_responses_forbid_sniffing(staff_client, client):
    assert client.get("/")["X-Content-Type-Options"] == "nosniff"
    ok = upload(staff_client, "a.png", image_bytes("PNG"), "image/png")
    refused = upload(staff_client, "a.png", HTML, "image/png")
    assert ok["X-Content-Type-Options"] == refused["X-Content-Type-Options"] == "nosniff"
    # The JSON answer is never HTML either, whatever the file was called.
    assert ok["Content-Type"] == refused["Content-Type"] == "application/json"
