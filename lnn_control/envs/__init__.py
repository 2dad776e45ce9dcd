"""Gymnasium environments (registered on import) and distribution-shift wrappers."""
