"""The social-insurance agency's staff (社保经办机构): their accounts
(:mod:`.accounts`) and console (:mod:`.routes`: login, review of
authorisation-code applications, 线下申请 at the window).
"""
