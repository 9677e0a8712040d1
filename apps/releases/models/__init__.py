"""Release planning (issue #15)."""
