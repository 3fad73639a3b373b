import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

pytestmark = pytest.mark.django_db

PREVIEW = "/markdownx/markdownify/"
UPLOAD = "/markdownx/upload/"
AJAX = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}


def png_bytes(size=(10, 10)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("editor", password="pw-123456789", is_staff=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", [PREVIEW, UPLOAD])
def test_anonymous_requests_refused_without_naming_the_admin(client, settings, url):
    for method in (client.post, client.get):
        response = method(url, {"content": "**x**"})
        assert response.status_code == 403
        assert "Location" not in response and "admin" not in response.content.decode().lower()


def test_logged_in_non_staff_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("patient", password="pw-123456789"))
    response = client.post(PREVIEW, {"content": "**x**"})
    assert response.status_code == 403


def test_staff_preview_uses_sanitising_pipeline(staff_client):
    response = staff_client.post(PREVIEW, {"content": "**bold** <script>alert(1)</script>"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<strong>bold</strong>" in body and "<script" not in body


def test_staff_upload_real_png_stored_under_random_png_name(staff_client, settings):
    upload = SimpleUploadedFile("page.html", png_bytes(), content_type="image/png")
    response = staff_client.post(UPLOAD, {"image": upload}, **AJAX)
    assert response.status_code == 200
    code = response.json()["image_code"]
    assert code.startswith("![](/media/uploads/") and code.endswith(".png)")
    assert "page" not in code


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("evil.png", b"<html><script>alert(1)</script></html>", "image/png"),
        ("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/svg+xml"),
        ("doc.pdf", b"%PDF-1.4 not an image", "application/pdf"),
    ],
)
def test_upload_rejects_non_images(staff_client, name, content, content_type):
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    response = staff_client.post(UPLOAD, {"image": upload}, **AJAX)
    assert response.status_code == 400


def test_upload_rejects_oversized_files(staff_client, settings):
    big = png_bytes() + b"\0" * (2 * 1024 * 1024 + 1)
    upload = SimpleUploadedFile("big.png", big, content_type="image/png")
    response = staff_client.post(UPLOAD, {"image": upload}, **AJAX)
    assert response.status_code == 400
