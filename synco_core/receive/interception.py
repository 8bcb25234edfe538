"""Telling a public file the site does not have from a network that answers for the site.

A captive portal (hotel or train Wi-Fi whose login ran out) or a company proxy's block page may start
answering in the middle of a receive: every request then gets a 200 HTML page, or a 403, 407 or 511 page.
Judged file by file, each answer looks like a file removed since serve (a fallback page, a 403) or like
another version of it, and ``--allow-missing`` would install a tree short of every file fetched after that
moment. The site's own answer is only trusted as "missing" while the site is still seen answering: the
session's meta, asked for past any cache, must still come as an age file. When it does not, whatever
answered is named and the receive stops (:class:`InterceptedError`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from synco_core import age
from synco_core.errors import TransferError
from synco_core.receive.fallback import TITLE_BYTES, describe
from synco_core.receive.transport import NotFoundError, RefusedRedirectError, Transport, UnavailableError

ADVICE = ("a captive portal (sign in to the network: open any web page in a browser) or a proxy's block page "
          "(have the site allowed); no file was taken for a missing one: run again once the site answers")


#: Seconds a look that found the site answering vouches for the judgements that follow it: a set of many files
#: the site no longer has asks for the meta at most about once a second, not once per file, and a portal is
#: still met within a second of its first page. The look at the end of a set vouches for everything before it.
LOOK_INTERVAL = 1.0


class InterceptedError(TransferError):
    """Something between this machine and the site answers in its place (a captive portal, a proxy's block
    page): the receive stops, as every later answer would be that page."""


def intercepted(url: str, answer: str) -> InterceptedError:
    """The one line for a network that answered ``answer`` (``HTTP 511 ...``, ``an HTML page titled ...``)
    where the site's own file was asked for at ``url``."""
    return InterceptedError(f"something between this machine and the site answers in its place ({answer} for "
                            f"{url}): {ADVICE}")


class SiteWitness:
    """Whether the site itself still answers, by its session's meta (an age file whatever the session).

    :meth:`confirm` is called for each public file judged missing or of another version, with the moment of
    that judgement: one look at the meta taken after that moment vouches for every judgement made before it,
    so many threads judging files at once share a look, and one that began up to ``within`` seconds before it
    vouches for it as well (:data:`LOOK_INTERVAL`; the end of a set asks with 0).
    """

    def __init__(self, transport: Transport, meta_path: str) -> None:
        self._transport = transport
        self._path = meta_path
        self._lock = threading.Lock()
        #: When the last look that found the site answering began (monotonic), or None.
        self._seen: float | None = None

    def confirm(self, judged: float, within: float = LOOK_INTERVAL) -> None:
        """Return when the site answered after ``judged`` (a ``time.monotonic()``), or less than ``within``
        seconds before it; raise :class:`InterceptedError` when something else answers for it now."""
        with self._lock:
            if self._seen is not None and self._seen + within >= judged:
                return
            began = time.monotonic()
            self._look()
            self._seen = began

    def _look(self) -> None:
        opener: Any = getattr(self._transport, "open_fresh", None)
        if opener is None:
            return
        shown = f"{self._transport.description.rstrip('/')}/{self._path}"
        try:
            with opener(self._path) as response:
                head = bytearray()
                for chunk in response.iter_bytes():
                    head += chunk
                    if len(head) >= TITLE_BYTES:
                        break
                status = response.status
        except NotFoundError:
            # The session went (serve stopped, its time ran out): the site still answers for itself.
            return
        except RefusedRedirectError as exc:
            # A portal sends every request to its own login page.
            raise intercepted(shown, f"a redirect to {exc.target}") from None
        except UnavailableError as exc:
            # A 403: a proxy's block page (a portal's, too). Its words name the page.
            said = str(exc).partition(" (HTTP ")[2]
            raise intercepted(shown, f"HTTP {said.replace(')', '', 1)}" if said else str(exc)) from None
        except InterceptedError:
            raise
        except TransferError:
            # Nothing answered, or an error the file's own request will meet: no page stands in for the site.
            return
        if not age.is_age_header(bytes(head[:64])):
            raise intercepted(shown, f"{describe(bytes(head))} (HTTP {status})")
