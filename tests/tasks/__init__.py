"""Tests of the tasks service."""
