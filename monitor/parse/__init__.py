"""Filing bytes → Document: normalised text, paragraphs and sections. Pure functions."""
