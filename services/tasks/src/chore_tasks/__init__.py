"""The tasks service: task lifecycle, offers, reviews, scheduler jobs."""
