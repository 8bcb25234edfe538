"""``synco pull --delete`` keeps the laptop's files that the remote side's exclude rules match, over the channel
and ``--via-http`` alike (the meta carries the rules either way); ``--delete-excluded`` removes them, and what
the plugin marks as regenerated goes like any file the remote does not have. The remote side runs through the
docker shim (``tests/shims/docker``), as in ``test_pull_shim``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pull_support import make_project, remote_environment, run_synco

#: Local files of the received uploads and private sets, and whether a pull --delete keeps each.
LOCAL = {
    "uploads/cache/page.html": True,
    "uploads/cache/deep/x.bin": True,
    "uploads/styles/thumb.jpg": False,
    "uploads/gone.bin": False,
    "private/cache/session.bin": True,
    "private/styles/a.css": False,
}


@pytest.mark.parametrize("delete_excluded", [False, True])
@pytest.mark.parametrize("path", ["channel", "via-http"])
def test_pull_delete_keeps_what_the_rules_exclude(tmp_path: Path, path: str, delete_excluded: bool) -> None:
    project = make_project(tmp_path / "app", public_files=4)
    marker = project.root / "synco-pulltest.json"
    marker.write_text(json.dumps({"sqlite": "db.sqlite", "exclude": ["/cache"], "regenerated": ["/styles"]}))
    (project.root / "public" / "uploads" / "cache").mkdir()
    (project.root / "public" / "uploads" / "cache" / "server.html").write_text("never sent")
    env = remote_environment(tmp_path)
    how = ["--via-http", "--remote-listen", "127.0.0.1:0"] if path == "via-http" else []
    first = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out", *how], env, tmp_path)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out"
    assert not (out / "uploads" / "cache").exists()
    for relative in LOCAL:
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text("laptop's")
    again = run_synco(["pull", f"docker://web-1{project.root}", "--target", "out", "--delete", *how,
                       *(["--delete-excluded"] if delete_excluded else [])], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert {relative: (out / relative).exists() for relative in LOCAL} == {
        relative: stays and not delete_excluded for relative, stays in LOCAL.items()}
    served = project.root / "public" / "uploads" / "file 0.bin"
    assert (out / "uploads" / "file 0.bin").read_bytes() == served.read_bytes()
    if not delete_excluded:
        assert "kept: serve's exclude rules leave them out (/cache, .*)" in again.stderr + again.stdout
