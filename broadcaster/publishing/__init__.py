"""Publishing: schedules fire, approval decides, a campaign revision becomes a publication."""
