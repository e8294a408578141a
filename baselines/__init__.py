"""Baseline learning-rate policies and the evaluation function they share.

=====================  ===================================================================
module                 contents
=====================  ===================================================================
``policy``             the Policy protocol and the :class:`~baselines.policy.LRPolicy` base
``evaluation``         :func:`~baselines.evaluation.run_episode` / ``evaluate``: THE evaluation
``schedules``          fixed, step, exponential, inverse sqrt, linear, cosine / SGDR, one-cycle
``heuristics``         bold driver, reduce-on-plateau, hypergradient descent (+ multiplicative)
``qlearning``          tabular Q-learning (train: ``python -m baselines.qlearning``)
``sb3_agents``         SB3 DQN / PPO as policies (train: ``python -m baselines.train_sb3``)
``registry``           ``BASELINES``, ``LEARNED``, ``HAND_DESIGNED``, ``make_baseline(name, family)``
``tune``               grid tuning on train instances → ``tuned.json`` (``python -m baselines.tune``)
``report``             validation table (``python -m baselines.report``)
=====================  ===================================================================
"""
