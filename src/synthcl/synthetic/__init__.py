"""Synthetic image sets: M images per source made by an f_S (``sets``), and generic synthetic
sources that need no real image (``deadleaves``)."""

from synthcl.synthetic.deadleaves import dead_leaves
from synthcl.synthetic.sets import SyntheticSet, synthesize

__all__ = ["SyntheticSet", "dead_leaves", "synthesize"]
