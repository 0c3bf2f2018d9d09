"""dcai_lab: the helper library of the dcai-lab course kit for data-centric AI.

One module per idea, in the order the notebooks teach them (the notebook in brackets):

- ``data``: the embedded digits, MNIST / Fashion-MNIST / CIFAR-10 loaders, rare classes, splits (00)
- ``augment``: growing a pool by distorting images, the MNIST-8M recipe (00)
- ``uncertainty``: least confidence, margin, entropy (MaxEnt) and information density (01)
- ``strategies``: the selection strategies of active learning, one signature (01)
- ``coreset``: k-center greedy core-set selection (01)
- ``active``: the pool-based active-learning loop; ``history``: what a run of it did (01)
- ``embed``: images to vectors; ``encoder``: the kit's CNN and its checkpoints;
  ``simclr``: training it without labels (02, 03)
- ``knn``: nearest-neighbour indexes (exact, LSH, HNSW) and recall (02, 04)
- ``seals``: SEALS's candidate pool and loop; ``rare``: the rare-concept search experiment (02)
- ``scaling``: power-law fits and learning curves; ``perceptron``: the theory of pruning (03)
- ``pruning``: prototype, EL2N and random scores, and keeping the easy or hard end (03)
- ``pool_files``: pools of millions built and embedded in chunks to memory-mapped files;
  ``seals_scaling``: SEALS's cost against pool size; ``knn_shards``: an index split in shards;
  ``distributed``: embedding and full-pool scoring on a Dask cluster (02, section on scale)
- ``failures``: where a model fails, per class; ``mining``: mining similar data, one engine step (04)
- ``cnn``: a small CNN with scikit-learn's interface and MC dropout; ``committee``: query by committee;
  ``bald``: BALD and BatchBALD; ``badge``: diverse batches from gradient embeddings;
  ``stopping``: when to stop labeling (05)
- ``plotting``: image grids, learning curves, the data-engine dashboard (all)
- ``widgets``: interactive views and the labeling widget (01-04)
- ``course``: course tooling, not lessons: releasing and grading exercises, the set-up check
- ``_checks``: every input check and its message; ``_cache``: the embedding cache's files; ``_ivf``: training
  the IVF indexes of ``knn`` and ``knn_shards``

Modules are imported on use (``from dcai_lab.data import load_digits``), so ``import dcai_lab``
stays fast.
"""

from dcai_lab.course.environment import check_environment

__version__ = "0.1.0"
__all__ = ["check_environment", "__version__"]
