"""The privacy rights: a person's export, their erasure, retention, and the privacy page."""
