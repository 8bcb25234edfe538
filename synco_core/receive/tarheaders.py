"""Member headers of a private set's tar, read with bounds that tarfile does not have.

tarfile reads an extended header (a PAX header, a GNU long name or long link) whole into memory before
anything can look at the member it describes, and keeps every PAX global header's records for the rest of
the archive; a GNU sparse member's map it reads extension block by extension block for as long as each
says another follows, and a PAX 1.0 sparse map for as many numbers as its first line asks (raising
ValueError, not a TarError, for one it cannot split). So their memory was bounded only by the archive's
declared size, which a hostile server chooses: a 4 GiB PAX header costs a zstd frame of a few kilobytes.

:class:`BoundedTarInfo` refuses an extended header over :data:`MAX_EXTENDED_HEADER` before reading it,
global records adding up to more, sparse members of every form (no synco or Go serve writes them), and
a header tarfile fails on with a ValueError (a PAX ``hdrcharset`` that is not UTF-8).
The refusal is tarfile's ``SubsequentHeaderError``, which tarfile reports as the ``ReadError`` receive already
takes for a damaged archive. It relies on tarfile's ``_proc_*`` methods, unchanged since Python 3.2; the
tests in ``tests/fuzz/test_fuzz_tar.py`` fail if a Python release renames them.
"""

from __future__ import annotations

import tarfile
from typing import Any

#: The most an extended header (or all PAX global records together) may hold: a PAX header carries a path
#: (at most 4 KiB on Linux), a link target and a few times and ids.
MAX_EXTENDED_HEADER = 1024 * 1024

_EXTENDED = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)
#: What tarfile raises for a bad header after the first, and reports as a ReadError (typeshed omits it).
_Refused: type[Exception] = tarfile.SubsequentHeaderError  # type: ignore[attr-defined]
_SPARSE_REFUSED = "sparse members are not accepted (no synco or Go serve writes them)"


class BoundedTarInfo(tarfile.TarInfo):
    """A ``TarInfo`` whose reading of extended headers and sparse maps is bounded (see the module)."""

    def _proc_member(self, tarfile_: Any) -> Any:
        if self.type in _EXTENDED and self.size > MAX_EXTENDED_HEADER:
            raise _Refused(
                f"an extended header of {self.size} bytes, more than the {MAX_EXTENDED_HEADER} any archive member needs"
            )
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _Refused(_SPARSE_REFUSED)
        try:
            member = super()._proc_member(tarfile_)  # type: ignore[misc]
        except ValueError as exc:
            # tarfile decodes a PAX hdrcharset record as UTF-8 with no handler: UnicodeDecodeError, no TarError.
            raise _Refused(f"an extended header tarfile cannot read ({exc})") from None
        if self.type == tarfile.XGLTYPE:
            held = sum(len(key) + len(value) for key, value in tarfile_.pax_headers.items())
            if held > MAX_EXTENDED_HEADER:
                raise _Refused(
                    f"global headers holding {held} bytes, more than the {MAX_EXTENDED_HEADER} any archive needs"
                )
        return member

    def _proc_gnusparse_00(self, *args: Any) -> None:
        raise _Refused(_SPARSE_REFUSED)

    def _proc_gnusparse_01(self, *args: Any) -> None:
        raise _Refused(_SPARSE_REFUSED)

    def _proc_gnusparse_10(self, *args: Any) -> None:
        raise _Refused(_SPARSE_REFUSED)
