"""Shared plumbing: settings and the database engine."""
