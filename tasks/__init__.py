"""Task packages: each registers one Task in TASKS under its package name."""
