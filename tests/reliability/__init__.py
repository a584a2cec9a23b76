"""Reliability suite (a package, so its module names may repeat those of tests/)."""
