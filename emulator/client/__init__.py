"""`amt` as a client of a running emulator: jobs, describe, watch, report."""
