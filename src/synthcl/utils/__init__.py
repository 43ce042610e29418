"""Small helpers shared by every stage: atomic files, seeds, devices, progress."""
