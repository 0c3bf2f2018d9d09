"""Course tooling, not lesson material: releasing, handing out and grading the exercises, checking a machine.

Command line: ``python -m dcai_lab.course release | execute | grade | handout`` (``--help`` for each).

- :mod:`~dcai_lab.course.notebooks`: release student notebooks (nbgrader's preprocessors), run notebooks.
- :mod:`~dcai_lab.course.handout`: the folder handed to students (``make handout``).
- :mod:`~dcai_lab.course.grading`: autograde a class (``make grade``), one notebook at a time with
  :mod:`~dcai_lab.course.autograde`, built from
  :mod:`~dcai_lab.course.submissions` (reading submissions safely), :mod:`~dcai_lab.course.overwrite`
  (the instructor's test cells back in), :mod:`~dcai_lab.course.sandbox` and
  :mod:`~dcai_lab.course.kernel_launcher` (the kernel in bubblewrap, with limits),
  :mod:`~dcai_lab.course.runner` (one cell at a time, the execute replies), :mod:`~dcai_lab.course.tamper`,
  :mod:`~dcai_lab.course.watch` and :mod:`~dcai_lab.course.watch_calls` (tamper evidence), :mod:`~dcai_lab.course.scoring` (nbgrader's points),
  :mod:`~dcai_lab.course.report` (feedback for students), :mod:`~dcai_lab.course.gradebook` (CSV, Canvas,
  Moodle).
- :mod:`~dcai_lab.course.explore` and :mod:`~dcai_lab.course.references`: explore mode for self-study.
- :mod:`~dcai_lab.course.environment`: :func:`check_environment`, the set-up check of notebook 00.
"""
