"""The unit's pages (稳岗返还信息确认): the L2 gate, its records with their
history, and the explicit confirmation step. ``routes.py`` is the web layer,
``confirmation.py`` what the pages read and submit; the decision itself is
:func:`services.refund_portal.decisions.decide`, shared with the API."""
