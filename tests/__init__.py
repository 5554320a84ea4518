"""Tests of the WSD Scan integration, its protocol library and its simulator."""
