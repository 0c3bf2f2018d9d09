"""dcai_lab: the helper library of the dcai-lab course kit for data-centric AI.

One module per idea of the course:

- ``data``: the embedded digits, MNIST / Fashion-MNIST / CIFAR-10 loaders, augmented pools, splits
- ``uncertainty``: least confidence, margin, entropy (MaxEnt) and information density scores
- ``active``: selection strategies and the pool-based active learning loop
- ``embed``: embeddings, including the kit's self-supervised encoder
- ``seals``: nearest-neighbour indexes and SEALS's candidate pool
- ``pruning`` and ``scaling``: data pruning scores and power-law scaling
- ``widgets``: interactive views for the notebooks
- ``plotting``: image grids and small plots
- ``grading``: release student notebooks and autograde submissions (nbgrader conventions)

Modules are imported on use (``from dcai_lab.data import load_digits``), so
``import dcai_lab`` stays fast.
"""

from dcai_lab.environment import check_environment

__version__ = "0.1.0"
__all__ = ["check_environment", "__version__"]
