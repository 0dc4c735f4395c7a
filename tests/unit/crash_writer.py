"""Helper process for test_crash_safety: saves check-ins in a loop until it is killed.

Usage: crash_writer.py <store|tinydb> <data dir> <uid> <first n>

Prints "ready" once open, then "ack <kind> <n>" only after each save has returned, so every
acked document must survive a SIGKILL at any moment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tinydb import TinyDB

from bot.storage import AtomicJSONStorage, FileStore


def checkin(n: int) -> dict[str, object]:
    # Big enough (a few KB per save) that kills often land in the middle of a write.
    return {"n": n, "severity": n % 10, "where": "left calf", "note": "twitching again " * 8}


def main() -> None:
    mode, data_dir, uid, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    if mode == "store":
        store = FileStore(data_dir).open()
        if store.get_profile_sync(uid) is None:
            store.save_profile_sync(uid, {"tz": "UTC", "tips_paused_until": -1})
        print("ready", flush=True)
        while True:
            store.insert_sync(uid, "checkins", checkin(n))
            print(f"ack checkin {n}", flush=True)
            if n % 3 == 0:  # profile writes also rewrite the index shard
                store.update_profile_sync(uid, {"tips_paused_until": n})
                print(f"ack profile {n}", flush=True)
            n += 1
    else:
        db = TinyDB(data_dir / "plain.json", storage=AtomicJSONStorage)
        print("ready", flush=True)
        while True:
            db.table("checkins").insert(checkin(n))
            print(f"ack checkin {n}", flush=True)
            n += 1


if __name__ == "__main__":
    main()
