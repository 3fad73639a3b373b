"""Signal receivers: an edit session captures what is saved inside it; reads are tracked for previews.

Connected once (EditorialConfig.ready); each receiver returns at once when nothing is listening in
this thread.
"""

from functools import cache

from django.db.models.signals import m2m_changed, post_delete, post_init, post_save

from . import registry, tracking


@cache
def _owners():
    """{part model label: (owner label, foreign key attname)}"""
    owners = {}
    for owner in registry.publishable_models():
        for part in registry.entry_for(owner).parts:
            relation = owner._meta.get_field(part)
            owners[relation.related_model._meta.label_lower] = (owner._meta.label_lower, relation.field.attname)
    return owners


@cache
def _publishable_labels():
    return frozenset(model._meta.label_lower for model in registry.publishable_models())


def record_of(instance):
    """(label, pk) of the publishable record `instance` is, or is a part of; None otherwise."""
    label = instance._meta.label_lower
    if label in _publishable_labels():
        return label, instance.pk
    owner = _owners().get(label)
    if owner is not None:
        return owner[0], getattr(instance, owner[1])
    return None


def _saved(sender, instance, created=False, raw=False, **kwargs):
    from .workflow import current_session

    session = current_session()
    if session is not None and not raw:
        session.note_saved(instance, created)


def _deleted(sender, instance, **kwargs):
    from .workflow import current_session, revisions_of

    session = current_session()
    if session is not None:
        session.note_deleted(instance)
    elif instance._meta.label_lower in _publishable_labels():
        revisions_of(instance).delete()  # a record deleted by a reviewer takes its drafts with it


def _m2m(sender, instance, action, reverse=False, model=None, pk_set=None, **kwargs):
    from .workflow import current_session

    session = current_session()
    if session is None or not action.startswith("post_"):
        return
    if reverse:  # drug.sections.add(section): the sections' own field changed
        for pk in pk_set or ():
            session.note_saved(model(pk=pk), created=False)
    else:
        session.note_saved(instance, created=False)


def _initialised(sender, instance, **kwargs):
    if getattr(tracking._local, "seen", None) is None:  # the common case: nobody is tracking
        return
    key = record_of(instance)
    if key is not None:
        tracking.loaded(*key)


def connect():
    post_save.connect(_saved, dispatch_uid="editorial-saved")
    post_delete.connect(_deleted, dispatch_uid="editorial-deleted")
    m2m_changed.connect(_m2m, dispatch_uid="editorial-m2m")
    for model in registry.publishable_models():
        post_init.connect(_initialised, sender=model, dispatch_uid=f"editorial-read-{model._meta.label_lower}")
        for part in registry.entry_for(model).parts:
            part_model = model._meta.get_field(part).related_model
            post_init.connect(
                _initialised, sender=part_model, dispatch_uid=f"editorial-read-{part_model._meta.label_lower}"
            )
