"""Clients and caps: each device's row, its policy, its accounting, registration and retention."""
