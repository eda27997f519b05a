"""Answering the tuner's requests for suggestions away from the event loop that serves the API.

The requests and their answers are `tuner.suggestion`'s; this package only carries them to
workers and the answers back: `pool` to worker processes beside the control plane.
"""
