"""The Markdown editor's server side: live preview and image upload, for staff only.

django-markdownx's own views accept anonymous requests and trust the
browser's word on what a file is; these wrap them behind staff login and check
each upload's content with Pillow.
"""

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from markdownx.forms import ImageForm
from markdownx.views import ImageUploadView, MarkdownifyView
from PIL import Image, UnidentifiedImageError

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
        try:
            with Image.open(upload) as image:
                image.verify()
                image_format = image.format
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ValidationError(
                "This file is not a picture we can read. Upload a JPEG, PNG, GIF or WebP image."
            ) from exc
        if image_format not in IMAGE_FORMATS:
            raise ValidationError("Only JPEG, PNG, GIF and WebP images can be uploaded.")
        upload.seek(0)
        # Name and type come from the content, never from the browser, so an
        # upload can never be stored or served as HTML or SVG.
        upload.content_type, extension = IMAGE_FORMATS[image_format]
        upload.name = f"image.{extension}"
        return upload


markdownify = staff_member_required(MarkdownifyView.as_view())
upload_image = staff_member_required(ImageUploadView.as_view(form_class=VerifiedImageForm))
