"""Custom integrations (needed for test discovery)."""
