"""The agency's side (社保经办机构管理端, under ``/agency``): staff login, the
year's eligibility list and its import, the records and bank-account
correction, payment batches and their export, the audit log.

``routes.py`` is the web layer (every route names the permission its staff
member needs, see :mod:`services.refund_portal.staff`); the services are
``imports.py`` (reading, checking and importing a list), ``records.py``
(what staff see of records, and correcting an account), ``payments.py``
(batches, marking paid, export files) and ``audit_log.py`` (the log page).
"""
