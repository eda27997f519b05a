"""Forks a tree that outlives it: a child and a grandchild (under a middle child), and with
`escape` one more that leaves the process group with setsid().
`fork_tree.py exit|wait [escape]`: exit 0 at once, or run until stopped."""

import os
import sys
import time
from collections.abc import Callable


def spawn(body: Callable[[], None]) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            body()
        finally:
            os._exit(0)
    return pid


def sleep_forever() -> None:
    while True:
        time.sleep(0.5)


def escapee() -> None:
    os.setsid()
    sleep_forever()


if __name__ == "__main__":
    read, write = os.pipe()
    child = spawn(sleep_forever)
    middle = os.fork()
    if middle == 0:
        os.close(read)
        os.write(write, str(spawn(sleep_forever)).encode())
        os.close(write)
        sleep_forever()
    os.close(write)
    grandchild = int(os.read(read, 64).decode())
    pids = [os.getpid(), child, middle, grandchild]
    if "escape" in sys.argv[2:]:
        pids.append(spawn(escapee))
    print("READY", *pids, flush=True)
    if sys.argv[1] == "wait":
        sleep_forever()
    sys.exit(0)
