"""The pages that bring the features together: home with its feed, and "Meg"."""
