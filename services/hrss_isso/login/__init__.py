"""Logging in at the ISSO with 账号密码, and what a login keeps.

Owns the password login with lockout for personal, unit and staff accounts
(:mod:`.password_login`), the session keys of each kind of login
(:mod:`.sessions`), and the pages (:mod:`.routes`): the login page, the unit
home page and the chooser of the unit a handler acts for (part 二 (二)).
"""
