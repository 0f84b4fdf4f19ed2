"""网银证书 / CA证书: the one-time challenge, the signed response's checks
(``verifier``), and what a verified certificate does (raise a level, log a unit in)."""
