"""torchprimer: the helper package behind the torchprimer notebooks.

Each function a notebook teaches is shown in full there (its docstring names the
notebook) and imported from here by the notebooks after it; ``torchprimer.data`` is
infrastructure. Importing this package has no side effects: it neither seeds random
generators nor touches the network.
"""

__version__ = "0.1.0"
