"""The unit's login: relying party of hrss_isso (OpenID Connect, RFC 9470
step-up), logout, and the back-channel logout notices that end a login here
and the bearer tokens issued under it. ``routes.py`` is the web layer,
``backchannel.py`` what a notice ends."""
