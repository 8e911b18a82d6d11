"""The shared kernel: small rules every feature uses. Imports nothing of the features."""
