"""LH-Mix and hierarchical prompt tuning for hierarchical text classification."""
