"""The external sort (bounded memory, stable, temporary files removed) and the on-disk digest set."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from synco_core.index.extsort import DigestSet, ExternalSorter, external_sort


def _encode(item: tuple[str, int]) -> bytes:
    return f"{item[0]}\t{item[1]}".encode()


def _decode(line: bytes) -> tuple[str, int]:
    key, number = line.decode().split("\t")
    return key, int(number)


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.text(alphabet="ab/é-", max_size=4)), run_size=st.integers(1, 9))
def test_sorted_stable_and_bounded(tmp_path_factory: object, keys: list[str], run_size: int) -> None:
    items = [(key, number) for number, key in enumerate(keys)]
    spill = tmp_path_factory.mktemp("spill")  # type: ignore[attr-defined]
    result = list(external_sort(items, key=lambda item: item[0], encode=_encode, decode=_decode, run_size=run_size,
                                spill_dir=spill))
    # Python's sort is stable too: equal keys keep their input order.
    assert result == sorted(items, key=lambda item: item[0])
    assert list(spill.iterdir()) == []


def test_runs_spill_only_past_the_run_size(tmp_path: Path) -> None:
    sorter: ExternalSorter[tuple[str, int]] = ExternalSorter(lambda item: item[0], _encode, _decode, run_size=3,
                                                             spill_dir=tmp_path)
    for number, key in enumerate("cb"):
        sorter.add((key, number))
    assert list(tmp_path.iterdir()) == []
    sorter.add(("0", 9))
    assert len(list(tmp_path.iterdir())) == 1
    sorter.add(("a", 5))
    iterator = sorter.sorted()
    assert next(iterator) == ("0", 9)
    # Closing the iterator early removes the runs too.
    iterator.close()
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=50, deadline=None)
@given(members=st.lists(st.text(max_size=8)), others=st.lists(st.text(max_size=8)))
def test_digest_set_membership(tmp_path_factory: object, members: list[str], others: list[str]) -> None:
    folder = tmp_path_factory.mktemp("digests")  # type: ignore[attr-defined]
    digests = DigestSet.build(members + members[:3], folder / "set")
    try:
        assert digests.count == len(set(members))
        assert all(member in digests for member in members)
        assert all((other in digests) == (other in members) for other in others)
        assert 5 not in digests
    finally:
        digests.close()
