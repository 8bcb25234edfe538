"""File sets of synco-laravel's disks (local and S3) and installing received sets into the disks."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from synco_laravel.plugin import detect_framework, install_files, list_file_sets

from synco_core import FileSet, FileSetOptions, Framework, ReceivedFileSet, redact
from synco_core.testing.services import FakeBucket, needs_php

Make = Callable[..., Path]


def sets_of(project: Path, all_files: bool = False) -> dict[str, FileSet]:
    framework = detect_framework(project)
    assert framework is not None
    sets = list_file_sets(framework, FileSetOptions(all=all_files))
    assert sets is not None
    return {s.name: s for s in sets}


def test_laravel11_disks(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11")
    sets = sets_of(project)
    assert set(sets) == {"public", "local"}, "the s3 disk has no bucket: not in use, not listed"
    public = sets["public"]
    assert (public.kind, public.root, public.relative_base_path, public.url_prefix) == (
        "public", project / "storage/app/public", "storage/app/public", "storage/")
    assert public.skipped_reason is None
    local = sets["local"]
    assert (local.kind, local.root, local.relative_base_path) == (
        "private", project / "storage/app/private", "storage/app/private")
    assert local.exclude == ("/livewire-tmp",)
    assert sets_of(project, all_files=True)["local"].exclude == ()


def test_laravel10_private_disk_skips_public_folder(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel10")
    sets = sets_of(project)
    local = sets["local"]
    assert (local.kind, local.root, local.relative_base_path) == ("private", project / "storage/app", "storage/app")
    assert "/public" in local.exclude
    assert sets["public"].relative_base_path == "storage/app/public"


def test_missing_folder_is_reported(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11")
    shutil.rmtree(project / "storage/app/private")
    assert "does not exist" in (sets_of(project)["local"].skipped_reason or "")


def test_s3_disk_without_public_url_is_skipped(make_project: Make, php_mode: str) -> None:
    project = make_project("laravel11", env={"AWS_BUCKET": "uploads-bucket", "AWS_SECRET_ACCESS_KEY": "aws-secret-1"})
    s3 = sets_of(project)["s3"]
    assert redact("key aws-secret-1") == "key ***", "disk secrets are registered at detection"
    assert s3.skipped_reason is not None and "public url" in s3.skipped_reason
    assert s3.entries is None


@needs_php
def test_other_drivers_are_skipped(make_project: Make) -> None:
    project = make_project("laravel11")
    config = project / "config/filesystems.php"
    config.write_text(config.read_text().replace(
        "    'disks' => [\n",
        "    'disks' => [\n        'backups' => ['driver' => 'sftp', 'host' => 'backup.example', 'root' => '/b'],\n"
        "        'uploads' => ['driver' => 'local', 'root' => public_path('uploads'), 'visibility' => 'public'],\n",
    ))
    (project / "public/uploads").mkdir()
    sets = sets_of(project)
    assert sets["backups"].skipped_reason == "the sftp driver is not supported"
    uploads = sets["uploads"]
    assert (uploads.kind, uploads.url_prefix, uploads.relative_base_path) == ("public", "uploads/", "public/uploads")


def test_s3_disk_with_public_url_lists_bucket(make_project: Make, php_mode: str, s3_bucket: FakeBucket) -> None:
    s3_bucket.objects = [("media/a.png", 10), ("media/b.png", 20)]
    project = make_project("laravel11", env={
        "AWS_BUCKET": "shop", "AWS_URL": "https://cdn.example.com", "AWS_ENDPOINT": s3_bucket.endpoint,
        "AWS_USE_PATH_STYLE_ENDPOINT": "true", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
    })
    s3 = sets_of(project)["s3"]
    assert s3.kind == "public" and s3.skipped_reason is None and s3.entries is not None
    assert next(e.uri for e in s3.entries()) == "https://cdn.example.com/media/a.png"


def received(tmp_path: Path, files: dict[str, str]) -> Path:
    source = tmp_path / "received"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    return source


def test_install_private_disk_keeps_nested_public_disk(make_project: Make, no_php: None, tmp_path: Path) -> None:
    project = make_project("laravel10")
    framework = detect_framework(project)
    assert framework is not None
    source = received(tmp_path, {"exports/2024.csv": "new export\n"})
    (source / "public").mkdir()  # the excluded folder arrives as an empty directory entry of the tar
    result = install_files(framework, ReceivedFileSet("local", "private", "storage/app"), source)
    assert result is not None
    assert result.destination == project / "storage/app"
    assert result.files == 1
    assert (project / "storage/app/exports/2024.csv").read_text() == "new export\n"
    assert not (project / "storage/app/export-2023.csv").exists(), "the old private content is replaced"
    assert (project / "storage/app/public/uploads/doc.txt").read_text() == "uploaded document\n", (
        "the public disk inside storage/app must survive installing the local disk")
    assert result.backup is not None and (result.backup / "export-2023.csv").exists()


def test_install_public_disk(make_project: Make, no_php: None, tmp_path: Path) -> None:
    project = make_project("laravel11")
    framework = detect_framework(project)
    assert framework is not None
    source = received(tmp_path, {"avatars/2.txt": "avatar 2\n"})
    result = install_files(framework, ReceivedFileSet("public", "public", "storage/app/public"), source)
    assert result is not None and result.destination == project / "storage/app/public"
    assert (project / "storage/app/public/avatars/2.txt").exists()
    assert (project / "storage/app/private/invoice-2024-001.txt").exists(), "other disks are untouched"


def test_install_unknown_set_left_to_core(make_project: Make, no_php: None, tmp_path: Path) -> None:
    framework = detect_framework(make_project("laravel11"))
    assert framework is not None
    assert install_files(framework, ReceivedFileSet("extra", "private", "var/extra"), tmp_path) is None
    other = Framework(name="Other", plugin="other", project_dir=tmp_path)
    assert install_files(other, ReceivedFileSet("public", "public", "x"), tmp_path) is None
    assert list_file_sets(other, FileSetOptions()) is None


@needs_php
def test_post_install_commands_run(make_project: Make) -> None:
    project = make_project("laravel11")
    framework = detect_framework(project)
    assert framework is not None
    (project / "bootstrap/cache").mkdir()
    (project / "bootstrap/cache/config.php").write_text("<?php return [];\n")
    outputs = [subprocess.run(argv, cwd=project, capture_output=True, text=True, check=True).stdout
               for argv in framework.post_install]
    assert "link has been connected" in outputs[0]
    assert os.readlink(project / "public/storage") == str(project / "storage/app/public")
    assert "Clearing cached bootstrap files" in outputs[1]
    assert not (project / "bootstrap/cache/config.php").exists()
