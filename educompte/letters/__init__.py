"""Credential letters: the paper (or cards) that hands pupils their provisional passwords."""
