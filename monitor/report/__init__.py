"""Outputs for people and scripts: tables, digests, alerts, charts."""
