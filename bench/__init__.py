"""`make bench`: figures measured next to their raw ceilings in the same run."""
