"""Detection: findings from a Document (pure functions)."""
