"""Answering from passages: the question's analysis, the fitted answer model that quotes sentences
offline, and the LLM answerer whose sentences are verified."""
