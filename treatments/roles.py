"""The two editorial roles, as permission groups.

Editors write drafts of every publishable record (editorial.registry) and send them for review;
medical reviewers also publish them, which records their review. Superusers can do everything.
Data migrations call `ensure_editorial_groups`; it is idempotent and also puts back a permission
someone removed.
"""

EDITOR = "Editor"
MEDICAL_REVIEWER = "Medical reviewer"


def content_models():
    """{app label: [model names]}: every publishable model and its parts (editorial.registry)."""
    from django.apps import apps as global_apps

    from editorial.registry import PUBLISHABLE

    found = {}
    for entry in PUBLISHABLE:
        app_label, name = entry.label.lower().split(".")
        found.setdefault(app_label, []).append(name)
        model = global_apps.get_model(entry.label)
        for part in entry.parts:
            found[app_label].append(model._meta.get_field(part).related_model._meta.model_name)
    return found


# ClinicalTrials.gov studies (registry/) are written by the sync only: both roles see them and the sync log, and only
# a medical reviewer may change one, which means hiding it from the public list (with a reason) or showing it again.
REGISTRY_VIEW = [("registry", "view_registrystudy"), ("registry", "view_registrysync")]
REGISTRY_REVIEW = [("registry", "change_registrystudy")]
# Reader feedback ("Was this page helpful?", feedback/) is read by medical reviewers, who may also delete an answer
# (spam, or a comment in which a reader wrote something personal). Nobody changes one.
FEEDBACK_REVIEW = [("feedback", "view_feedback"), ("feedback", "delete_feedback")]


def group_permissions():
    """{group name: [(app_label, codename), …]}"""
    from editorial.registry import PUBLISHABLE

    editor, reviewer = [], []
    for app_label, models in content_models().items():
        for model in models:
            editor += [(app_label, f"{action}_{model}") for action in ("add", "change", "view")]
            reviewer += [(app_label, f"{action}_{model}") for action in ("add", "change", "delete", "view")]
            # Both roles may read the history of what they edit.
            for role in (editor, reviewer):
                role.append((app_label, f"view_historical{model}"))
    for entry in PUBLISHABLE:
        app_label, name = entry.label.lower().split(".")
        reviewer.append((app_label, f"publish_{name}"))
    for role in (editor, reviewer):
        role.append(("editorial", "view_revision"))
    editor += REGISTRY_VIEW
    reviewer += REGISTRY_VIEW + REGISTRY_REVIEW + FEEDBACK_REVIEW
    return {EDITOR: editor, MEDICAL_REVIEWER: reviewer}


def ensure_editorial_groups(apps):
    """Create or update the Editor and Medical reviewer groups (historical `apps` in migrations)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        # create_permissions skips apps without a models module; historical app configs have none.
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = original

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    # An earlier migration runs with the models of its time: skip models that did not exist yet
    # (a later migration calls this again once they do).
    existing = {(model._meta.app_label, model._meta.model_name) for model in apps.get_models()}
    for name, wanted in group_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = []
        for app_label, codename in wanted:
            model_name = codename.split("_", 1)[1].removeprefix("historical")
            if (app_label, model_name) in existing:
                # A permission the model did not declare yet (publish_… before 0008) comes with a later migration.
                permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
                if permission is not None:
                    permissions.append(permission)
        group.permissions.add(*permissions)
