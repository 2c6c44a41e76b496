"""Distil multilingual vision-language text encoders and evaluate them language by language."""

__version__ = "0.1.0"
