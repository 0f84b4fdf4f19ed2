"""The pages that create accounts or get back into one: 个人注册 (both ways),
单位注册, 找回登录账号 and 忘记密码 (:mod:`.routes`, with what they share
with 登录初始化 in :mod:`.contexts`). The rules are the accounts'
(:mod:`services.hrss_isso.accounts`).
"""
