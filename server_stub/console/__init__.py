"""Console: the dealer's web console (to come)."""
