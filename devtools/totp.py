"""Print the current TOTP code for a base32 secret (the demo staff's authenticator):

python -m devtools.totp JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
"""

from __future__ import annotations

import sys
import time

from shared.totp import totp


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m devtools.totp <base32 secret>", file=sys.stderr)
        return 2
    now = time.time()
    print(f"{totp(args[0], now)}  (valid for {30 - int(now) % 30}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
