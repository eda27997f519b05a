"""Ignores SIGTERM and runs until killed: only SIGKILL after the stop grace ends it."""

import os
import signal
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(f"READY {os.getpid()}", flush=True)
while True:
    time.sleep(0.5)
