"""The repository's own tooling, run by the Makefile: the course manifest, executing
the book, building the exercise notebooks, exporting taught code into the package.

Nothing here is imported by a notebook or a benchmark; that is ``src/torchprimer/``.
"""
