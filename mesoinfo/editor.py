"""The Markdown editor's server side: live preview and image upload, for staff only.

django-markdownx's own views accept anonymous requests and trust the
browser's word on what a file is; these answer 403 to anyone but staff and check
each upload's content with Pillow.
"""

import io
from functools import wraps

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import JsonResponse
from markdownx.forms import ImageForm
from markdownx.views import ImageUploadView, MarkdownifyView
from PIL import Image, UnidentifiedImageError

# Larger pictures are refused before decoding: a small file can declare huge dimensions.
MAX_SIDE = 5000
TOO_LARGE = f"This picture is too large (max {MAX_SIDE}×{MAX_SIDE} px). Make it smaller and upload it again."

# Pillow format → (content type, file extension). Nothing else is accepted.
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
# Only what a picture needs survives re-encoding: no comments, text chunks or metadata (an upload's bytes beyond
# its pixels can carry HTML or script).
KEPT_INFO = ("transparency",)
SAVE_OPTIONS = {"JPEG": {"quality": 85}, "WEBP": {"quality": 85}, "PNG": {"optimize": True}, "GIF": {}}


def re_encode(image, image_format):
    """The picture's pixels (the first frame of an animation), at most MARKDOWNX_IMAGE_MAX_SIZE, in fresh bytes."""
    picture = image.copy()
    picture.thumbnail(settings.MARKDOWNX_IMAGE_MAX_SIZE["size"])
    picture.info = {name: value for name, value in image.info.items() if name in KEPT_INFO}
    buffer = io.BytesIO()
    picture.save(buffer, image_format, **SAVE_OPTIONS[image_format])
    return buffer.getvalue()


class VerifiedImageForm(ImageForm):
    def clean(self):
        upload = super().clean()
        unreadable = "This file is not a picture we can read. Upload a JPEG, PNG, GIF or WebP image."
        try:
            with Image.open(upload) as image:
                image_format, (width, height) = image.format, image.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise ValidationError(TOO_LARGE)
                image.verify()
            upload.seek(0)
            with Image.open(upload) as image:
                image.load()  # decode every pixel: truncated or corrupt data is refused here, not later
                if image_format in IMAGE_FORMATS:
                    data = re_encode(image, image_format)
        except Image.DecompressionBombError as exc:  # dimensions far beyond any picture's: refused before decoding
            raise ValidationError(TOO_LARGE) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ValidationError(unreadable) from exc
        if image_format not in IMAGE_FORMATS:
            raise ValidationError("Only JPEG, PNG, GIF and WebP images can be uploaded.")
        # Name and type come from the content, never from the browser, so an
        # upload can never be stored or served as HTML or SVG.
        content_type, extension = IMAGE_FORMATS[image_format]
        self.verified = SimpleUploadedFile(f"image.{extension}", data, content_type=content_type)
        return self.verified

    def save(self, commit=True):
        # markdownx saves the request's file as it is (MARKDOWNX_SKIP_RESIZE lists every type): give it ours.
        self.files = self.files.copy()
        self.files["image"] = self.verified
        return super().save(commit)


class VerifiedImageUploadView(ImageUploadView):
    form_class = VerifiedImageForm

    def form_invalid(self, form):
        # markdownx answers a non-AJAX invalid upload with a template it does not have (a 500).
        return JsonResponse(form.errors, status=400)


def staff_only(view):
    """403 for anyone but active staff. Not a redirect to the login page: that would name the admin's address."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


markdownify = staff_only(MarkdownifyView.as_view())
upload_image = staff_only(VerifiedImageUploadView.as_view())
