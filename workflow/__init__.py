"""The proposal workflow: states, the transition table, the door, the audit chain."""
