"""Sidebar panels and the add-on preferences."""
