"""获取验证码: the one endpoint every form with an SMS code posts to, and who may
be sent a code for which purpose."""
