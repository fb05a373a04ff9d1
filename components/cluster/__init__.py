"""Cluster layer: EKS, DOKS or an existing cluster behind one small interface."""
