"""The Markdown editor's server side: live preview and image upload, for staff only.

django-markdownx's own views accept anonymous requests and trust the
browser's word on what a file is; these answer 403 to anyone but staff and check
each upload's content with Pillow.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from markdownx.forms import ImageForm
from markdownx.views import ImageUploadView, MarkdownifyView
from PIL import Image, UnidentifiedImageError

# Larger pictures are refused before decoding: a small file can declare huge dimensions.
MAX_PIXELS = 25_000_000

# Pillow format → (content type, file extension). Nothing else is accepted.
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}


class VerifiedImageForm(ImageForm):
    def clean(self):
        upload = super().clean()
        unreadable = "This file is not a picture we can read. Upload a JPEG, PNG, GIF or WebP image."
        try:
            with Image.open(upload) as image:
                image_format, (width, height) = image.format, image.size
                if width * height > MAX_PIXELS:
                    raise ValidationError(
                        f"This picture is too large ({width} × {height} pixels). Resize it to at most "
                        f"{MAX_PIXELS // 1_000_000} million pixels and upload it again."
                    )
                image.verify()
            upload.seek(0)
            with Image.open(upload) as image:
                image.load()  # decode every pixel: truncated or corrupt data is refused here, not later
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
            raise ValidationError(unreadable) from exc
        if image_format not in IMAGE_FORMATS:
            raise ValidationError("Only JPEG, PNG, GIF and WebP images can be uploaded.")
        upload.seek(0)
        # Name and type come from the content, never from the browser, so an
        # upload can never be stored or served as HTML or SVG.
        upload.content_type, extension = IMAGE_FORMATS[image_format]
        upload.name = f"image.{extension}"
        return upload


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
