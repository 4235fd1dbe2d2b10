"""Leaderboard entries with provenance and their rendering. Not implemented yet: see issue 6."""
