"""torchprimer: the helper package behind the torchprimer notebooks.

Each function is taught in full in one notebook, named in its docstring, and imported
from here by the notebooks after it. Importing this package has no side effects: it
neither seeds random generators nor touches the network.
"""

__version__ = "0.1.0"
