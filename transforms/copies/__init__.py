"""Fingerprints and near-duplicate groups (copies of one article), and connected
components."""
