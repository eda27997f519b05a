"""Prints metric lines whose values are not finite numbers, between two good ones."""

import os

print(f"READY {os.getpid()}")
for value in ["0.5", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "abc", "", "0x10", "0.25"]:
    print(f"epoch metric loss={value}")
