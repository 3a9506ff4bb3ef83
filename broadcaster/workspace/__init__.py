"""The workspace: campaigns/, channels/, schedules.yaml read and validated into frozen models."""
