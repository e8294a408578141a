"""Baseline learning-rate policies and the evaluation function they share.

See :mod:`baselines.policy` for the Policy protocol and :mod:`baselines.evaluation` for
:func:`~baselines.evaluation.evaluate`.
"""
