"""The sync engine: Microsoft 365 users flow one way into employees."""
