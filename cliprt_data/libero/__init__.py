"""LIBERO demonstrations: their HDF5 layout, conversion to our datasets, download, and ``cliprt libero``."""
