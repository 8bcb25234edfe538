"""``synco pull``: run the source side through ssh, docker or kubectl and bring the session back.

The pieces, each usable on its own:

- :mod:`~synco_core.pull.remote` turns a ``REMOTE`` argument (a URL or a name from ``.synco.yml``) into a
  :class:`~synco_core.pull.remote.Remote`.
- :mod:`~synco_core.pull.channel` builds the argv of each channel and runs it as a subprocess that is
  always cleaned up.
- :mod:`~synco_core.pull.frames` is the length-prefixed protocol spoken over the channel's stdin/stdout
  (its frames are listed in docs/wire-format.md); :mod:`~synco_core.pull.client` is its client end,
  :mod:`~synco_core.pull.server` its server end, serving the read-only :mod:`~synco_core.pull.spaces`,
  and :mod:`~synco_core.pull.transport` reads a session through a client, as receive's transport.
- :mod:`~synco_core.pull.zipapp` builds a self-contained zipapp of the local synco for hosts without it,
  and :mod:`~synco_core.pull.bootstrap` decides whether to use the remote synco or upload that zipapp.

Trust boundary: the channel (ssh, ``docker exec``, ``kubectl exec``) is already authenticated and, for
ssh, encrypted. When the remote side cannot encrypt (no ``cryptography`` there) the artifacts cross the
channel without the age layer; nothing is written to a web root in channel mode.
"""
