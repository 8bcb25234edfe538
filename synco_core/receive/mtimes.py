"""Whether a local file's mtime is the index's, as the folder's file system could store it.

Receive stamps each file with the index's mtime and takes a file of the index's size and mtime for current.
A file system that cannot hold that mtime stores another one: exFAT and FAT start in 1980 and end in 2107
(an upload dated 1970, or 0, as some importers leave them, becomes 1980-01-01), ext4 with 128-byte inodes
and HFS+ end in 2038 and 2040, FAT keeps even seconds only. The file then never looked current, and every
re-sync fetched it again, for ever. Such an mtime is taken for the index's when it is exactly what a file
system makes of it: moved towards the years every one holds (never past them), or one second off towards
an even second. A local edit gives a file the time of the edit, which is neither.

Rounding to even seconds is allowed for only where the folder's file system does it (:func:`holds_odd_seconds`
is False: FAT): elsewhere a server file touched from an even second to the next one was taken for current,
and kept its old mtime for ever. (Clamping is not probed so: the FUSE exFAT driver holds any time until the
file system is mounted again, and only then shows what it stored.)
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets

#: 1980-01-01 00:00 UTC: FAT and exFAT hold nothing earlier (their start is in local time: a day of slack).
HELD_FROM = 315_532_800
#: 2038-01-19 03:14:07 UTC: 32-bit seconds (ext4 with 128-byte inodes) hold nothing later; HFS+ ends in
#: 2040, exFAT in 2107.
HELD_UNTIL = 2**31 - 1
#: The slack for a file system that keeps local time (FAT, exFAT without its UTC offset).
DAY = 86_400


#: The odd second a probe file is given (:func:`holds_odd_seconds`).
_PROBE_TIME = 1_000_000_001


def holds_odd_seconds(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder``'s file system holds odd seconds (all but FAT): a probe file made there is given one
    and read back. False when it cannot be made (even seconds then count for the odd ones next to them)."""
    probe = os.path.join(folder, f".synco-mtime-{secrets.token_hex(6)}")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0),
                         0o600))
    except OSError:
        return False
    try:
        os.utime(probe, (_PROBE_TIME, _PROBE_TIME))
        return int(os.lstat(probe).st_mtime) == _PROBE_TIME
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)


def same_mtime(local: int, listed: int, odd_seconds: bool = False) -> bool:
    """True when ``local`` (whole seconds, as stat'ed) is ``listed`` (the index's), or what a file system that
    cannot hold ``listed`` stored instead (clamped into its range, or, unless the folder holds ``odd_seconds``
    (:func:`holds_odd_seconds`), rounded to FAT's even seconds)."""
    if local == listed:
        return True
    if listed < HELD_FROM:
        # Clamped up to the file system's first second: between the index's time and 1980 (+ a day).
        return listed < local <= HELD_FROM + DAY
    if listed > HELD_UNTIL:
        # Clamped down to its last: between 2038 (- a day) and the index's time.
        return HELD_UNTIL - DAY <= local < listed
    return not odd_seconds and abs(local - listed) == 1 and local % 2 == 0


def held(mtime: int) -> int:
    """``mtime`` as every file system holds its years: clamped into 1980-2038. Two times :func:`same_mtime`
    takes for one by clamping have the same ``held`` (but for a FAT folder's local-time start), so a digest of
    these (:mod:`~synco_core.receive.treedigest`) matches on an exFAT folder too. It is not rounded to FAT's
    even seconds: a local file touched back by one second would then look current on a folder that holds
    odd ones (all but FAT); on FAT, where an odd second is stored as the even one before it, the digest of
    such a file differs, and the full comparison (which allows for it there) finds it current."""
    if mtime < HELD_FROM:
        return HELD_FROM
    return min(mtime, HELD_UNTIL)


#: The seconds ``os.utime`` takes where ``time_t`` has 64 bits (and, failing that, 32).
_TIME_T_BOUNDS = (2**63 - 1, 2**31 - 1)


def stamp(target: int | str, mtime: float) -> None:
    """Give ``target`` (a descriptor or a path) ``mtime`` as its access and modification time.

    A time the platform cannot take (an index or a tar from a hostile or broken server: 2^63, 1e30, an
    infinity) is set to the nearest it can, and NaN to 0: it ended the whole receive in one line before
    (OverflowError). :func:`same_mtime` takes the nearest for the listed time, so the file stays current.
    """
    if math.isnan(mtime):
        mtime = 0
    for bound in _TIME_T_BOUNDS:
        try:
            os.utime(target, (mtime, mtime))
            return
        except OverflowError:
            mtime = int(max(-bound - 1, min(mtime, bound)))
    os.utime(target, (mtime, mtime))


#: A PAX ``mtime`` as tar writers give it: seconds, and a fraction of any length (only nine digits count).
_PAX_TIME = re.compile(r"(-?)(\d{1,30})(?:\.(\d{1,100}))?")


def pax_mtime_ns(text: str | None) -> int | None:
    """A PAX header's ``mtime`` in nanoseconds, exactly as written (tarfile reads it as a float, which keeps
    about seven digits after the point at today's dates); None where it is no plain decimal number."""
    match = _PAX_TIME.fullmatch((text or "").strip())
    if match is None:
        return None
    sign, whole, part = match.groups()
    ns = int(whole) * 1_000_000_000 + int(((part or "") + "000000000")[:9])
    return -ns if sign else ns


def stamp_tar_time(target: int | str, pax_text: str | None, seconds: float) -> None:
    """Give ``target`` a tar member's time: its PAX header's to the nanosecond where it has one the platform
    takes, else ``seconds`` (the member's own, as :func:`stamp` sets it)."""
    exact = pax_mtime_ns(pax_text)
    if exact is not None:
        with contextlib.suppress(OverflowError):
            os.utime(target, ns=(exact, exact))
            return
    stamp(target, seconds)
