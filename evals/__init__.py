"""Conversation test suites and their runner (``careline eval``); see ``evals/README.md``.

The pieces, in the order a run uses them: :mod:`evals.loader` reads suite files into
:mod:`evals.format` objects (``Suite`` → ``Case`` → ``TurnSpec`` with :mod:`evals.assertions`);
:mod:`evals.runner` plays the cases on a target from :mod:`evals.targets` (in-process, HTTP) or
:mod:`evals.voice`; :mod:`evals.metrics`, :mod:`evals.junit`, :mod:`evals.reports` and
:mod:`evals.compare` turn the results into numbers, CI XML, reports and regressions.

Kept free of imports so that ``careline`` starts fast: import the module you need.
"""
