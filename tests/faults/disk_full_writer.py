"""Helper process for test_disk: fill the "disk" in the middle of a save, for real.

Usage: disk_full_writer.py <store|stock> <folder>

Saves 200 check-ins, then caps the file size this process may write (RLIMIT_FSIZE, the kernel's
own "file too large": a write stops part-way exactly as on a full disk) just above the current
file and saves one more. Prints "refused <ErrorType>" or "saved".
"""

from __future__ import annotations

import resource
import signal
import sys
from pathlib import Path

from tinydb import TinyDB

from bench.storage_bench import episode
from bot.storage import FileStore

UID = 4242


def main() -> None:
    mode, folder = sys.argv[1], Path(sys.argv[2])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    if mode == "store":
        store = FileStore(folder).open()
        for n in range(200):
            store.insert_sync(UID, "episodes", {**episode(n), "n": n})
        path = store.user_path(UID)
        save = lambda: store.insert_sync(UID, "episodes", {**episode(200), "n": 200})  # noqa: E731
    else:
        db = TinyDB(folder / "stock.json")  # stock: JSONStorage, written in place
        table = db.table("episodes")
        for n in range(200):
            table.insert({**episode(n), "n": n})
        path = folder / "stock.json"
        save = lambda: table.insert({**episode(200), "n": 200})  # noqa: E731
    limit = path.stat().st_size + 100
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    try:
        save()
    except Exception as exc:  # what the bot would turn into "couldn't save, try again"
        print(f"refused {type(exc).__name__}", flush=True)
    else:
        print("saved", flush=True)


if __name__ == "__main__":
    main()
