"""Stafettpinnen: the leaders' story relay (a baton passed from leader to leader)."""
