"""SPDX 3.0.1 software bills of materials for images (create-spdx.bbclass)."""
