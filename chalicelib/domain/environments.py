"""The environments every instance has, in the order they are listed."""
ENVIRONMENTS = ("prod", "staging", "test")
