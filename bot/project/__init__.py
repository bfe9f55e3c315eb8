"""Project directories (like a Rasa project): ``config.yml``, ``domain.yml``, ``flows/``, ``nlu/``,
``knowledge/``, ``guardrails.yml`` — loaded and validated up front by :func:`load_project`."""

from bot.project.loader import Project, load_project

__all__ = ["Project", "load_project"]
