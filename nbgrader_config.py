"""nbgrader's configuration for the dcai-lab notebooks: the recipe of INSTRUCTORS.md ("Grading with nbgrader").

Copy this file to the root of an nbgrader course directory (``source/<assignment>/`` holding notebooks from
``notebooks/solutions/``), put the virtual environment's ``bin`` first on PATH (nbgrader runs ``alembic``
to create its gradebook, and the kernels must import ``dcai_lab``), and run nbgrader there::

    export PATH="$PWD/.venv/bin:$PATH"          # from the kit's folder
    mkdir -p build/nbgrader/source && cp -r notebooks/solutions build/nbgrader/source/lab
    cp nbgrader_config.py build/nbgrader/ && cd build/nbgrader
    nbgrader generate_assignment lab --force
    # ... collect the submissions into submitted/<student>/lab/ ...
    nbgrader autograde lab --force

What it sets, and why:

- the release drops the cells tagged ``results`` (paragraphs reporting measured results), as ``make release``
  does, so ``nbgrader generate_assignment`` makes the kit's student notebooks;
- a cell time limit (``DCAI_CELL_TIMEOUT`` seconds, default 120: nbgrader's 30 is too short for the
  notebooks' experiments on a busy machine), interrupting a cell that runs past it, and no error when the
  interrupted cell's last outputs come late (nbgrader's default drops the whole notebook then): a student's
  infinite loop costs that cell, not the notebook;
- the kernels' environment as ``make grade`` sets it: ``DCAI_GRADING=1`` (explore mode never fills in an
  unanswered exercise), static widgets, no progress bars;
- kernels on ZeroMQ ``ipc`` sockets in a private folder: no TCP port, so no "running over TCP without
  encryption" warning per kernel.

nbgrader warns "Attribute 'checksum' for cell ... has changed!" for every test cell with hidden tests:
it stores each test cell's checksum before removing the hidden tests, so no submitted copy matches. The
warning is expected and nbgrader restores the cell anyway; a student's real edit of a test cell is named
by ``make grade`` ("test cell ... was edited in the submission" in its review column).

nbgrader runs student code with your rights: for a class, prefer ``make grade``, whose kernels run in a
sandbox (see INSTRUCTORS.md).
"""

import os
import tempfile

from nbconvert.preprocessors import TagRemovePreprocessor
from nbgrader.converters.generate_assignment import GenerateAssignment

c = get_config()  # noqa: F821 (nbgrader defines get_config when it reads this file)

c.CourseDirectory.course_id = "dcai-lab"
c.GenerateAssignment.preprocessors = [TagRemovePreprocessor,
                                      *GenerateAssignment.class_traits()["preprocessors"].default()]
c.TagRemovePreprocessor.enabled = True
c.TagRemovePreprocessor.remove_cell_tags = {"results"}
c.Execute.timeout = int(os.environ.get("DCAI_CELL_TIMEOUT", "120"))
c.Execute.interrupt_on_timeout = True
c.Execute.raise_on_iopub_timeout = False
c.KernelManager.transport = "ipc"
c.KernelManager.ip = os.path.join(tempfile.mkdtemp(prefix="nbgrader-kernels-"), "kernel")
for name, value in {"DCAI_GRADING": "1", "DCAI_STATIC_WIDGETS": "1", "TQDM_DISABLE": "1",
                    "MPLBACKEND": "module://matplotlib_inline.backend_inline"}.items():
    os.environ.setdefault(name, value)
