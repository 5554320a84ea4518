"""Tests of the WSD scanner simulator."""
