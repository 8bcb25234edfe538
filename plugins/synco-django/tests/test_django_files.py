"""The file sets of Django's storages: MEDIA_ROOT public or private (and why), other file-system storages,
django-storages' S3 backends, and the web root sessions are published in."""

from __future__ import annotations

from pathlib import Path

import pytest
from django_support import hide_python
from synco_django.plugin import detect_framework, list_file_sets

from synco_core import FileSet, FileSetOptions, Framework, redact
from synco_core.testing.services import FakeBucket

SETTINGS = '''from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
DATABASES = {{}}
{extra}
'''


@pytest.fixture(autouse=True)
def _no_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The settings below are read from the files: quicker, and the same values an interpreter would report.
    hide_python(monkeypatch, tmp_path)


def make(tmp_path: Path, extra: str, folders: tuple[str, ...] = ()) -> Framework:
    root = tmp_path / "p"
    (root / "mysite").mkdir(parents=True, exist_ok=True)
    (root / "manage.py").write_text('import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")\n')
    (root / "mysite/settings.py").write_text(SETTINGS.format(extra=extra))
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
    framework = detect_framework(root.resolve(), "source")
    assert framework is not None
    return framework


def sets_of(framework: Framework, all_sets: bool = False) -> dict[str, FileSet]:
    found = list_file_sets(framework, FileSetOptions(all=all_sets))
    assert found is not None
    return {s.name: s for s in found}


def test_static_root_is_the_web_root_and_media_outside_is_private(tmp_path: Path) -> None:
    framework = make(tmp_path, 'STATIC_ROOT = BASE_DIR / "staticfiles"\nSTATIC_URL = "/static/"\n'
                               'MEDIA_ROOT = BASE_DIR / "media"\nMEDIA_URL = "/media/"\n', ("media", "staticfiles"))
    root = framework.project_dir
    assert framework.web_root == root / "staticfiles" and framework.public_prefixes == ("/static",)
    media = sets_of(framework)["media"]
    assert (media.kind, media.root, media.relative_base_path) == ("private", root / "media", "media")
    assert "not inside the web root" in media.description and "packed and encrypted" in media.description
    # Thumbnails are rebuilt on demand: regenerated, so a laptop's stale copies go on install.
    assert media.regenerated == ("/cache", "/CACHE") and sets_of(framework, all_sets=True)["media"].regenerated == ()
    assert media.exclude == ()


def test_media_inside_a_web_root_served_at_its_url_is_public(tmp_path: Path) -> None:
    """``.synco.yml``'s ``serve.web_root: public`` (applied by synco-generic, here by hand): public/ is
    served at /, so public/media is at /media/, which is MEDIA_URL."""
    framework = make(tmp_path, 'STATIC_ROOT = BASE_DIR / "public" / "static"\nMEDIA_ROOT = BASE_DIR / "public/media"\n'
                               'MEDIA_URL = "media/"\n', ("public/media",))
    framework.web_root = framework.project_dir / "public"
    media = sets_of(framework)["media"]
    assert (media.kind, media.url_prefix, media.relative_base_path) == ("public", "media/", "public/media")
    assert "served at /media/" in media.description


def test_media_inside_the_web_root_at_another_url_stays_private(tmp_path: Path) -> None:
    framework = make(tmp_path, 'MEDIA_ROOT = BASE_DIR / "public/uploads"\nMEDIA_URL = "/protected/"\n',
                     ("public/uploads",))
    assert framework.web_root == framework.project_dir / "public", "a conventional document root without STATIC_ROOT"
    media = sets_of(framework)["media"]
    assert media.kind == "private"
    assert "linked at /protected/ instead of /uploads/" in media.description


def test_media_below_static_root_at_its_static_url_is_public(tmp_path: Path) -> None:
    framework = make(tmp_path, 'STATIC_ROOT = BASE_DIR / "www"\nSTATIC_URL = "/assets/"\n'
                               'MEDIA_ROOT = BASE_DIR / "www/media"\nMEDIA_URL = "/assets/media/"\n', ("www/media",))
    media = sets_of(framework)["media"]
    assert (media.kind, media.url_prefix) == ("public", "media/")


def test_media_at_an_absolute_url_is_public_with_absolute_urls(tmp_path: Path) -> None:
    framework = make(tmp_path, f'MEDIA_ROOT = "{tmp_path}/m"\nMEDIA_URL = "https://media.example.com/m/"\n')
    (tmp_path / "m/a b").mkdir(parents=True)
    (tmp_path / "m/a b/c.txt").write_text("hello")
    media = sets_of(framework)["media"]
    assert media.kind == "public" and media.entries is not None and media.relative_base_path == "media"
    (entry,) = list(media.entries())
    assert (entry.path, entry.size, entry.uri, entry.is_absolute_url) == (
        "a b/c.txt", 5, "https://media.example.com/m/a%20b/c.txt", True)


def test_no_media_root_no_set_and_missing_folder_is_skipped(tmp_path: Path) -> None:
    assert sets_of(make(tmp_path, "")) == {}
    media = sets_of(make(tmp_path, 'MEDIA_ROOT = BASE_DIR / "gone"\n'))["media"]
    assert media.skipped_reason is not None and "does not exist" in media.skipped_reason


def test_other_file_system_storages_and_unknown_backends(tmp_path: Path) -> None:
    framework = make(tmp_path, '''MEDIA_ROOT = BASE_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "myapp.storage.OverwriteStorage"},
    "exports": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": BASE_DIR / "var/exports", "base_url": "/exports/"}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "cloud": {"BACKEND": "storages.backends.gcloud.GoogleCloudStorage"},
}
''', ("media", "var/exports"))
    sets = sets_of(framework)
    assert list(sets) == ["media", "exports", "cloud"], "staticfiles is rebuilt by collectstatic, never sent"
    assert sets["media"].root == framework.project_dir / "media", "a custom default backend stores in MEDIA_ROOT"
    assert (sets["exports"].kind, sets["exports"].relative_base_path) == ("private", "var/exports")
    assert sets["cloud"].skipped_reason == ("the backend storages.backends.gcloud.GoogleCloudStorage is not supported "
                                            "(file system and S3 storages are)")


def test_s3_with_custom_domain_lists_the_bucket(tmp_path: Path, s3_bucket: FakeBucket) -> None:
    s3_bucket.objects = [("media/avatars/1.png", 10), ("media/avatars/2.png", 20), ("static/app.css", 5)]
    framework = make(tmp_path, f'''MEDIA_ROOT = BASE_DIR / "media"
STORAGES = {{
    "default": {{"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {{
        "bucket_name": "shop", "location": "media", "custom_domain": "cdn.example.com",
        "endpoint_url": "{s3_bucket.endpoint}", "addressing_style": "path",
        "access_key": "AKIDEXAMPLE", "secret_key": "s3-Secret-Django-1"}}}},
    "staticfiles": {{"BACKEND": "storages.backends.s3.S3StaticStorage"}},
}}
''')
    media = sets_of(framework)["media"]
    assert media.kind == "public" and media.skipped_reason is None and media.entries is not None
    assert media.relative_base_path == "media", "received into the local MEDIA_ROOT"
    assert [(e.path, e.uri) for e in media.entries()] == [
        ("avatars/1.png", "https://cdn.example.com/media/avatars/1.png"),
        ("avatars/2.png", "https://cdn.example.com/media/avatars/2.png")]
    assert redact("s3-Secret-Django-1") == "***"


def test_s3_from_the_global_aws_settings(tmp_path: Path, s3_bucket: FakeBucket) -> None:
    """Before STORAGES: DEFAULT_FILE_STORAGE and the AWS_* settings; an unsigned bucket is public as it is."""
    s3_bucket.objects = [("x.txt", 1)]
    framework = make(tmp_path, f'''DEFAULT_FILE_STORAGE = "storages.backends.s3boto3.S3Boto3Storage"
AWS_STORAGE_BUCKET_NAME = "legacy"
AWS_S3_ENDPOINT_URL = "{s3_bucket.endpoint}"
AWS_S3_ADDRESSING_STYLE = "path"
AWS_ACCESS_KEY_ID = "AKIDEXAMPLE"
AWS_SECRET_ACCESS_KEY = "aws-Secret-Global-2"
AWS_QUERYSTRING_AUTH = False
''')
    media = sets_of(framework)["media"]
    assert media.entries is not None
    assert [e.uri for e in media.entries()] == [f"{s3_bucket.endpoint}/legacy/x.txt"]
    assert redact("aws-Secret-Global-2") == "***"


def test_s3_with_signed_urls_or_no_bucket_is_skipped(tmp_path: Path) -> None:
    signed = sets_of(make(tmp_path, 'STORAGES = {"default": {"BACKEND": "storages.backends.s3.S3Storage", '
                                    '"OPTIONS": {"bucket_name": "private-bucket"}}}\n'))["media"]
    assert signed.skipped_reason is not None and "signed URLs (querystring_auth)" in signed.skipped_reason
    assert signed.entries is None
    nameless = sets_of(make(tmp_path, 'STORAGES = {"default": {"BACKEND": "storages.backends.s3.S3Storage"}}\n'))
    assert nameless["media"].skipped_reason == "S3 storage without a bucket_name"
