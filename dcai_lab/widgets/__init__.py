"""Interactive views for the notebooks (ipywidgets), each with a static fallback.

- :func:`uncertainty_explorer`: a model's uncertainty over the pool, round by round (notebook 01, section 6).
- :func:`neighbors_explorer`: a labeled image's nearest neighbours and SEALS's growing candidate pool, with a
  menu of the labeled images filtered by class or to a round's new labels (notebook 02, section 11).
- :func:`cluster_explorer`: the clusters of the prototype pruning metric, easiest to hardest (notebook 03, section 3).
- :func:`labeling_widget`: label images by hand; it can be the oracle of an active-learning loop, and its Stop
  ends the loop keeping every label (notebook 04, section 8).

Displayed in JupyterLab, each shows live controls. Where no widget front end runs
(``DCAI_STATIC_WIDGETS=1``, which ``make test`` and ``make solutions`` set so that stored
outputs are pictures nbval can compare, or outside an IPython kernel), the explorers show
the same picture as a static matplotlib figure.
"""

from dcai_lab.widgets._base import WidgetView, static_widgets
from dcai_lab.widgets.clusters import ClusterExplorer, cluster_explorer
from dcai_lab.widgets.labeling import BackgroundRun, LabelingStopped, LabelingWidget, labeling_widget
from dcai_lab.widgets.neighbors import NeighborsExplorer, neighbors_explorer
from dcai_lab.widgets.uncertainty import UncertaintyExplorer, uncertainty_explorer

__all__ = ["uncertainty_explorer", "UncertaintyExplorer", "neighbors_explorer", "NeighborsExplorer",
           "cluster_explorer", "ClusterExplorer", "labeling_widget", "LabelingWidget", "LabelingStopped",
           "BackgroundRun", "static_widgets", "WidgetView"]
