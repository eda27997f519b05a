"""amt-emulator: a local emulator and simulator of SageMaker Automatic Model Tuning."""

__version__ = "0.1.0"
