"""Rubric definitions, scoring and the pre-screen checks; pure, no database code."""
