"""The enterprise and inspector directories."""
