"""Tests of the wsd protocol library."""
