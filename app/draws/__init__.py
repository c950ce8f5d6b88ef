"""Plans, frames, the draw ceremony and its results."""
