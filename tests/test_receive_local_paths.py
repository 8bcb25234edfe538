"""The local path of an index path (:func:`synco_core.receive.files.local_paths`): a concatenation where the
separator allows it, which must name exactly the file the join of every part names."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.errors import SyncoError
from synco_core.receive.files import local_paths
from synco_core.wire import index_path


@settings(max_examples=300, deadline=None)
@given(root=st.one_of(st.sampled_from(["", "/", "x", "x/", "x//", "/a/b", "/a/b/", "./rel"]),
                      st.text(alphabet="ab/. é", max_size=12)),
       path=st.one_of(st.text(alphabet="ab/.\\ é", min_size=1, max_size=30),
                      st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)))
def test_a_local_path_is_the_join_of_the_root_and_the_index_paths_parts(root: str, path: str) -> None:
    """For every path the index parser lets through, whatever the root looks like (empty, ``/``, ending in
    separators, a ``Path``)."""
    try:
        relative = index_path(path)
    except SyncoError:
        return
    assert local_paths(root)(relative) == os.path.join(root, *relative.split("/"))
    as_path = Path(root or ".")
    assert local_paths(as_path)(relative) == os.path.join(as_path, *relative.split("/"))
