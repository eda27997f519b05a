"""Training programs that misbehave, each in the way its name says (run by the tests in
tests/integration/test_misbehaving.py through `--image URI=COMMAND`)."""
