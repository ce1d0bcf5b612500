"""`python -m bertkit ...`: see `bertkit.apps.cli`."""

from bertkit.apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
