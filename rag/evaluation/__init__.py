"""Scoring the assistant: the eval harness, its metrics and reports, baselines, and the verifier's
score on labelled replies."""
