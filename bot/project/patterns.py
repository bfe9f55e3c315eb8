"""Rasa's default patterns, as far as Careline's own repair behaviour plays them, under Rasa's names.

A Rasa project (one with a ``data/`` folder) gets:

- Rasa's default pattern responses in its domain unless it defines them itself (a project overrides one by
  defining the response, as in Rasa): ``utter_can_do_something_else``, ``utter_flow_cancelled_rasa``,
  ``utter_flow_continue_interrupted``, ``utter_corrected_previous_input``, …
- Careline's repair messages sent under those names (:data:`RASA_NAMES`): the cancel message is
  ``utter_flow_cancelled_rasa``, the resume reminder ``utter_flow_continue_interrupted``, the correction note
  ``utter_corrected_previous_input``.
- ``pattern_*`` flow events around them (:data:`PATTERN_OF_RESPONSE`), so ``flow_started: pattern_correction``
  holds; and after the last flow on the stack completes or is cancelled, ``pattern_completed`` says
  ``utter_can_do_something_else``.

The texts are Careline's wording of Rasa's defaults; placeholders are Careline's ``{slot}`` / ``{value}`` /
``{flow}`` values.
"""

from __future__ import annotations

from bot.project.schema import Domain, ResponseVariant

DEFAULT_RESPONSES: dict[str, str] = {
    "utter_can_do_something_else": "What else can I help you with?",
    "utter_flow_cancelled_rasa": "Okay, I've stopped {flow}.",
    "utter_flow_continue_interrupted": "Let's get back to {flow}.",
    "utter_corrected_previous_input": "Okay, I've updated {slot} to {value}.",
    "utter_ask_rephrase": "Sorry, I didn't quite get that. Could you put it another way?",
    "utter_internal_error_rasa": "Sorry, something went wrong on our side. Please try again.",
    "utter_human_handoff_not_available": "I can't pass you to a person here, but I'm happy to keep helping.",
    "utter_skip_question_answer": "I'm afraid I need an answer to that before we can go on.",
    "utter_no_knowledge_base": "I'm afraid I can't answer that one.",
    "utter_clarification_options_rasa": "Which of these did you mean?",
}
"""Rasa's default pattern responses (name → Careline's text)."""

RASA_NAMES: dict[str, str] = {
    "utter_flow_cancelled": "utter_flow_cancelled_rasa",
    "utter_flow_resume": "utter_flow_continue_interrupted",
    "utter_corrected": "utter_corrected_previous_input",
}
"""Careline's repair response → the Rasa response it is sent as in a Rasa project."""

PATTERN_OF_RESPONSE: dict[str, str] = {
    "utter_flow_cancelled_rasa": "pattern_cancel_flow",
    "utter_flow_continue_interrupted": "pattern_continue_interrupted",
    "utter_corrected_previous_input": "pattern_correction",
    "utter_can_do_something_else": "pattern_completed",
}
"""The default pattern each of those responses belongs to (its flow events surround the message)."""

COMPLETED_RESPONSE = "utter_can_do_something_else"


def with_default_responses(domain: Domain) -> Domain:
    """``domain`` plus Rasa's default pattern responses it does not define itself."""
    missing = {name: [ResponseVariant(text=text)] for name, text in DEFAULT_RESPONSES.items()
               if name not in domain.responses}
    if not missing:
        return domain
    return domain.model_copy(update={"responses": {**domain.responses, **missing}})
