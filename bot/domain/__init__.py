"""Pure domain logic: no Telegram imports, no file I/O. Unit-tested on its own."""
