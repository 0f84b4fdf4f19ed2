"""The provincial login: 广东省统一身份认证 (gdzwfw_idp) as the ISSO's upstream.

Owns the start and callback of the login at gdzwfw_idp for 单位登录, 个人登录
and 个人实名认证 (:mod:`.callback` decides, :mod:`.routes` renders),
登录初始化 of a provincial legal person no unit is linked to (the seed's part
一 (三)), and the province's side of single logout (the pages; the logic is
:mod:`services.hrss_isso.logout`).
"""
