"""Evaluation: labelled sets, scoring and the built-in regression set."""
