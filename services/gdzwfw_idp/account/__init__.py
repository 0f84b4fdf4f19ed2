"""账号管理 for the logged-in account: 账号基本信息, 账号安全设置 (password,
mobile, e-mail) and 找回密码/账号."""
