"""HandOS model package."""
