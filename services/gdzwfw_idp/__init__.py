"""广东省统一身份认证平台 (gdzwfw_idp): the OpenID Provider with trust levels.

Where things are:

* ``app.py`` builds the service (``create_app``) and mounts every package's
  ``routes.router``; ``parts.py`` is what it builds; ``deps.py`` is how a
  handler asks for it (the parts, the form, the current login and its guards,
  the staff member with a role).
* Foundations every package uses: ``settings``, ``models``, ``messages``,
  ``accounts`` (account queries), ``registry`` (法人基础库 / 人口库),
  ``hooks`` (how the shared provider sees a browser login), ``flash``.
* Capabilities, each a package with ``routes.py`` (the web layer) beside the
  nouns that decide: ``login``, ``registration``, ``verification`` (one
  sub-package or module per method), ``account`` (basic info, security,
  recovery), ``handlers`` (经办人), ``staff`` (办事大厅 console), ``qr``
  (one-time sessions behind QR codes), ``sms`` (获取验证码), and
  ``standins`` (development mini-programs).
* ``demo`` and ``manage`` are for development and operators.
"""
