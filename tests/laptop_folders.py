"""Folders on the file systems a laptop or its external disk may have, each a fresh image on a loop device
mounted through FUSE (the machine's kernel has no exFAT, FAT or NTFS driver): exFAT (``exfat-fuse``), FAT32
(``fusefat``) and NTFS with Windows' rules on names (``ntfs-3g -o windows_names``, as Windows and WSL see
the disk); and, through a shim, the names a Mac's HFS+ disk or Linux's exFAT and FAT drivers store otherwise
than given, which Linux cannot make here (:func:`hfsplus_folder`, :func:`dot_stripping_folder`); and ext4
with whole-second times (``seconds``, mounted by the kernel). Mounting
needs root and ``/dev/fuse``; without them a test is :func:`unavailable`.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from synco_core.testing.services import require_tool, unavailable

#: kind -> (the mkfs command and its Debian package, its arguments before the image; the FUSE driver and
#: its package, its options before the device). exFAT and NTFS as a desktop mounts them for its user: folders
#: 0755, not the drivers' default 0777, which receive refuses as a folder others may rearrange.
KINDS = {
    "exfat": (("mkfs.exfat", "exfatprogs"), [], ("mount.exfat-fuse", "exfat-fuse"), ["-o", "umask=022"]),
    "fat": (("mkfs.vfat", "dosfstools"), ["-F", "32"], ("fusefat", "fusefat"), ["-o", "rw+"]),
    "ntfs": (("mkntfs", "ntfs-3g"), ["-F", "-q", "-f"], ("ntfs-3g", "ntfs-3g"), ["-o", "windows_names,umask=022"]),
    # Whole seconds, as HFS+, ext3 and NFS servers exporting them keep times: ext4 with 128-byte inodes, which
    # the kernel mounts itself.
    "seconds": (("mkfs.ext4", "e2fsprogs"), ["-q", "-I", "128"], ("mount", "mount"), ["-t", "ext4"]),
}


class LaptopFolder:
    """A fresh file system of ``kind`` on a loop device, mounted through FUSE at ``path``."""

    def __init__(self, kind: str, image: Path, path: Path) -> None:
        (_mkfs, _args, (driver, package), self._options) = KINDS[kind]
        self.kind = kind
        self.path = path
        self.mount = require_tool(driver, package)
        self.device = subprocess.run([require_tool("losetup", "mount"), "-f", "--show", str(image)], check=True,
                                     capture_output=True, text=True).stdout.strip()

    def mount_it(self) -> None:
        mounted = subprocess.run([self.mount, *self._options, self.device, str(self.path)], capture_output=True,
                                 text=True)
        if mounted.returncode != 0:
            unavailable(f"{os.path.basename(self.mount)} failed here: {mounted.stderr.strip()}")

    def remount(self) -> None:
        """Unmount and mount again: a FUSE driver answers from memory what it has not written yet (an mtime
        it takes but cannot store), so only a fresh mount shows what the disk holds."""
        subprocess.run(["umount", str(self.path)], check=True)
        self.mount_it()


@contextlib.contextmanager
def laptop_folder(tmp_path: Path, kind: str) -> Iterator[LaptopFolder]:
    """A folder on a fresh file system of ``kind`` (a key of :data:`KINDS`), unmounted afterwards."""
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        unavailable(f"a {kind} folder is mounted through a loop device and FUSE, which needs root and /dev/fuse")
    (mkfs, package), args, _driver, _options = KINDS[kind]
    image, folder = tmp_path / f"{kind}.img", tmp_path / kind
    with image.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    folder.mkdir()
    subprocess.run([require_tool(mkfs, package), *args, str(image)], check=True, capture_output=True)
    mounted = LaptopFolder(kind, image, folder)
    try:
        mounted.mount_it()
        try:
            yield mounted
        finally:
            subprocess.run(["umount", str(folder)], check=True)
    finally:
        subprocess.run(["losetup", "-d", mounted.device], check=True)


#: The shim that mounts a folder storing names otherwise than given (tests/shims/renaming-folder).
RENAMING_SHIM = Path(__file__).parent / "shims" / "renaming-folder"


@contextlib.contextmanager
def hfsplus_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder that stores names decomposed and finds them by either Unicode form, as HFS+ does (case-sensitive,
    as HFSX); unmounted afterwards."""
    with renaming_folder(tmp_path, "--decompose") as folder:
        yield folder


@contextlib.contextmanager
def dot_stripping_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder that drops the dots at the end of a name, as Linux's exFAT and FAT drivers and Windows do
    (``clip.`` is stored as ``clip``, and found by either); unmounted afterwards."""
    with renaming_folder(tmp_path, "--strip-dots") as folder:
        yield folder


@contextlib.contextmanager
def fat_times_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder whose times are FAT's (even seconds, no change time of its own), kept over a rename as a FAT disk
    keeps them (fusefat does not); unmounted afterwards."""
    with renaming_folder(tmp_path, "--fat-times") as folder:
        yield folder


@contextlib.contextmanager
def skewed_clock_folder(tmp_path: Path, seconds: float) -> Iterator[Path]:
    """A folder whose file system's clock is ``seconds`` ahead of this computer's (behind when negative), as an
    NFS server's without NTP; unmounted afterwards."""
    with renaming_folder(tmp_path, f"--clock-offset={seconds}") as folder:
        yield folder


@contextlib.contextmanager
def ecryptfs_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder that takes no name longer than 143 bytes, as eCryptfs (an encrypted home folder) does;
    unmounted afterwards."""
    with renaming_folder(tmp_path, "--name-max=143") as folder:
        yield folder


@contextlib.contextmanager
def renaming_folder(tmp_path: Path, *options: str) -> Iterator[Path]:
    """:data:`RENAMING_SHIM` with ``options`` through FUSE, over a folder of ``tmp_path``."""
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        unavailable("a folder of the renaming shim is mounted through FUSE, which needs root and /dev/fuse")
    # Debian's interpreter, which python3-fusepy is installed for (another python3 may come first on PATH).
    python = "/usr/bin/python3"
    if not os.access(python, os.X_OK) or subprocess.run([python, "-c", "import fusepy"],
                                                        capture_output=True).returncode != 0:
        unavailable("the renaming folder's shim needs fusepy (apt-get install python3-fusepy)")
    backing, folder = tmp_path / "renaming-disk", tmp_path / "renaming"
    backing.mkdir()
    folder.mkdir()
    with subprocess.Popen([python, str(RENAMING_SHIM), *options, str(backing), str(folder)], stderr=subprocess.PIPE,
                          text=True) as shim:
        try:
            # Mounting is the shim's first step: waited for, up to 10 s, not a measure of anything.
            for _ in range(200):
                if os.path.ismount(folder) or shim.poll() is not None:
                    break
                time.sleep(0.05)
            if not os.path.ismount(folder):
                unavailable(f"the renaming folder's shim did not mount: {shim.stderr.read() if shim.stderr else ''}")
            yield folder
        finally:
            if os.path.ismount(folder):
                subprocess.run(["umount", str(folder)], check=True)
            shim.wait(timeout=30)
