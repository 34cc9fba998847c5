"""The HTTP interface (JSON API and pages) and the command line."""
