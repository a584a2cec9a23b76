"""Answerers: extractive (offline) and LLM, and the citation checks they share."""
