"""The portal's API for other HRSS services (``/api/v1``): bearer tokens
from hrss_isso, checked by introspection (cached), L2 enforced with the
RFC 9470 challenge, the token's scope checked after both 401s.
``routes.py`` is the web layer, ``schemas.py`` its bodies, ``refunds.py``
what it reads and decides."""
