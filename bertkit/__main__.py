"""`python -m bertkit ...`: see `bertkit.cli`."""

from bertkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
