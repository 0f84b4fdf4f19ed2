"""登录: the login page and its methods (账号密码, 网银证书/CA证书, 微信扫码 with the
electronic licence, 经办人登录), and the browser login they start (``sessions``)."""
