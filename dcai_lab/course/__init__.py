"""Course tooling, not lesson material: releasing and grading the exercises, checking a machine.

- :mod:`dcai_lab.course.grading`: release student notebooks and autograde submissions on
  nbgrader's conventions (``python -m dcai_lab.course.grading --help``).
- :mod:`dcai_lab.course.environment`: :func:`check_environment`, the set-up check of notebook 00.
"""
