"""Helper process for test_kill9: stock TinyDB (default JSONStorage, one file written in place)
saving check-ins in a loop until it is killed.

Usage: stock_writer.py <file> <first n>

Prints "ready", then "ack <n>" after each insert has returned (what a bot would confirm).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tinydb import TinyDB

from bench.storage_bench import episode

PREFILL = 1_000  # a few months of check-ins for a handful of users: ~0.3 MB per write


def main() -> None:
    path, n = Path(sys.argv[1]), int(sys.argv[2])
    db = TinyDB(path)  # stock: JSONStorage
    table = db.table("episodes")
    if len(table) == 0:
        table.insert_multiple({**episode(i), "n": -1 - i} for i in range(PREFILL))
    print("ready", flush=True)
    while True:
        table.insert({**episode(n), "n": n})
        print(f"ack {n}", flush=True)
        n += 1


if __name__ == "__main__":
    main()
