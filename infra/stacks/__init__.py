"""Stacks of the Overspill app."""
