"""Files attached to a proposal: letters of support, syllabi, employer data."""
