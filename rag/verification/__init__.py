"""Checking citations: does each sentence of a reply say what the passages it cites say."""
