"""Unit authorisation codes (单位授权码, 经办人实名授权绑定 steps (3)–(5)).

Owns applications, their review, the codes and 授权码实名
(:mod:`.applications`), the uploaded materials (:mod:`.materials`), and the
handler's pages (:mod:`.routes`: 申请单位授权码, 申请记录, 授权码实名). The
agency's review pages are :mod:`services.hrss_isso.staff`.
"""
