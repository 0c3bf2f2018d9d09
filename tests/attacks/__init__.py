"""The attack suite of the grader: a small course (``course``) and one submission per attack (``catalog``).

``tests/test_grading_attacks.py`` grades them all in one class, between two honest students, and checks
that each attack gets the score it deserves and that the honest students keep their scores and files.
"""
