"""Tuning jobs in virtual time: the real tuner and store, training jobs replayed from curves."""
