"""Storskjerm: live word clouds and polls for staff days."""
