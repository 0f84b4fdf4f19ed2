"""办事大厅 staff: their accounts (password + TOTP, roles) and the console where
a ``hall_officer`` records an in-person check (``verification.hall``)."""
