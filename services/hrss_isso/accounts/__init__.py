"""Personal accounts (个人账号), unit accounts (单位账号) and the bindings
between them (经办人绑定).

Owns the records and rules of persons (:mod:`.persons`, with the population
registry they are checked against, :mod:`.registry`), units and their links
to the province (:mod:`.units`), handler bindings (:mod:`.bindings`), and the
账户管理 pages (:mod:`.routes`: 个人实名认证, 父账号信息, 子账号信息).
Registration pages are :mod:`services.hrss_isso.registration`.
"""
