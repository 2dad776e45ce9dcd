"""Behaviour cloning over sequences, DAgger, distributed (DDP) training."""
