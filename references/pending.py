"""A reference file between the import preview and its confirmation.

The preview keeps the file server-side (default storage, `imports/` under a random name) and the confirm step
names it by that name: the text is never posted back through the browser, so a file as large as the import
form accepts (20 MB) imports as well as it previews. A kept file belongs to the session that uploaded it,
is deleted once imported, and expires after EXPIRY (expired files are removed whenever the import page is used).
"""

import datetime
import secrets

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

EXPIRY = datetime.timedelta(hours=1)
FOLDER = "imports"
SESSION_KEY = "reference_imports"  # {token: format} of this session's kept files


class Expired(ValueError):
    """The kept file is gone: imported already, expired, or never this session's."""


def keep(request, text, fmt):
    """Store `text` for this session's confirmation; returns the token that names it."""
    remove_expired()
    token = secrets.token_urlsafe(32)
    default_storage.save(_name(token), ContentFile(text.encode("utf-8")))
    request.session[SESSION_KEY] = {**request.session.get(SESSION_KEY, {}), token: fmt}
    return token


def take(request, token):
    """(text, format) of a file this session kept; Expired if there is none (any more)."""
    fmt = request.session.get(SESSION_KEY, {}).get(token)
    name = _name(token) if isinstance(token, str) and token.replace("-", "").replace("_", "").isalnum() else None
    if fmt is None or name is None or not default_storage.exists(name) or _expired(name):
        discard(request, token)
        raise Expired(
            "This preview has expired (previews are kept for one hour) or was imported already. "
            "Nothing was imported: upload the file again."
        )
    with default_storage.open(name, "rb") as kept:
        return kept.read().decode("utf-8"), fmt


def discard(request, token):
    kept = request.session.get(SESSION_KEY, {})
    if token in kept:
        request.session[SESSION_KEY] = {name: fmt for name, fmt in kept.items() if name != token}
    if isinstance(token, str) and token.replace("-", "").replace("_", "").isalnum():
        default_storage.delete(_name(token))


def remove_expired():
    if not default_storage.exists(FOLDER):
        return
    for filename in default_storage.listdir(FOLDER)[1]:
        name = f"{FOLDER}/{filename}"
        if _expired(name):
            default_storage.delete(name)


def _name(token):
    return f"{FOLDER}/{token}.txt"


def _expired(name):
    return timezone.now() - default_storage.get_modified_time(name) > EXPIRY
