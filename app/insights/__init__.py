"""Insights: an organisation's own culture over time, for leaders, curators and admins.

Importing the package registers the listener that keeps the aggregates up to date.
"""

from app.insights import maintain as maintain
