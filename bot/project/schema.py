"""Typed models of a project's files: ``config.yml``, ``domain.yml``, ``nlu/*.yml``, ``guardrails.yml``.

Every model is frozen and forbids unknown keys, so a typo is an error that names its line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.customers.config import CustomersConfig, RetentionConfig
from bot.handoff.config import HandoffConfig
from bot.infra.llm import LLMConfig
from bot.knowledge.config import KnowledgeConfig
from bot.outbound.config import OutboundConfig
from bot.project.channels import Strict as _Strict
from bot.project.channels import VoiceConfig, WidgetConfig

LLMMode = Literal["off", "fallback", "primary"]


class NLUConfig(_Strict):
    """Understanding settings."""

    threshold: float = Field(default=0.5, ge=0, le=1)
    """Below this confidence the message is out of scope for the flows (knowledge or fallback answers)."""
    classifier: Literal["embedding"] = "embedding"
    """The intent classifier: sentence embeddings + logistic regression."""
    lexical_weight: float = Field(default=0.0, ge=0, le=1)
    """Share of a TF-IDF word/character model in the intent probabilities (the rest: the embedding model).
    0.3 helps large intent sets (BANKING77: +0.5 pt); on a small project it pulls questions that merely share
    a word with an intent ("telehealth appointments") out of the knowledge base's reach, so it is off by default."""
    llm_commands: LLMMode = "off"
    """The LLM command generator (needs ``llm:``): ``off`` never calls a model; ``fallback`` asks it only when the
    classifier is below ``threshold``; ``primary`` asks it first. When the model fails, times out or answers
    something invalid, the classifier's result is used."""


class BackendConfig(_Strict):
    """The business systems the flows' actions call."""

    type: Literal["demo", "http"] = "demo"
    """``demo``: the in-memory demo backend seeded from the project's ``seed.json`` (or the bundled data);
    ``http``: a real system speaking the JSON protocol of ``bot/flows/backend/http.py``."""
    url: str | None = Field(default=None, validate_default=True)
    """Base URL of the system; required with ``type: http`` (and only allowed then)."""
    token_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable holding the bearer token sent with every call (read at start-up, never stored)."""
    timeout: float = Field(default=5.0, gt=0, le=120)
    """Seconds per call before it counts as failed (the customer is then told and handed to a person)."""

    @field_validator("url")
    @classmethod
    def _url_only_for_http(cls, url: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("type")
        if kind == "http" and not url:
            raise PydanticCustomError("backend_url", "required when type is http")
        if kind == "demo" and url is not None:
            raise PydanticCustomError("backend_url", "only used with type: http")
        if url is not None and not url.startswith(("http://", "https://")):
            raise PydanticCustomError("backend_url", "must start with http:// or https://")
        return url

    @field_validator("token_env")
    @classmethod
    def _token_only_for_http(cls, token_env: str | None, info: ValidationInfo) -> str | None:
        if token_env is not None and info.data.get("type") == "demo":
            raise PydanticCustomError("backend_token_env", "only used with type: http")
        return token_env


class Limits(_Strict):
    """Bounds on what a customer can trigger."""

    max_message_chars: int = Field(default=2000, ge=1, le=100_000)
    """Longer messages are refused with HTTP 413 (never truncated silently)."""
    max_turns_per_minute: int = Field(default=30, ge=1)
    """Messages per conversation per minute; beyond it a message is refused (HTTP 429, nothing stored)."""
    max_messages_per_minute_per_client: int = Field(default=60, ge=1)
    """Messages one client source (an address, a caller) may send per minute across all its conversations and
    all workers; beyond it messages are refused (HTTP 429 with ``Retry-After``, nothing stored)."""


class AuthConfig(_Strict):
    """How verification of a customer's identity holds up over time and against guessing."""

    session_ttl: float = Field(default=900.0, gt=0, le=86_400)
    """Seconds of inactivity after which a verification expires (the customer verifies again)."""
    step_up_ttl: float = Field(default=300.0, gt=0, le=86_400)
    """Account-changing actions (``step_up_actions``) need a verification at most this many seconds old."""
    step_up_actions: tuple[str, ...] = ("action_change_address", "action_cancel_order",
                                        "action_reschedule_appointment", "action_cancel_appointment")
    """Actions that change an account; they re-verify the customer when the verification is older than
    ``step_up_ttl``."""
    max_attempts: int = Field(default=3, ge=1, le=20)
    """Failed verifications per conversation before it is locked and handed to a person."""
    max_failures_per_customer: int = Field(default=5, ge=1, le=100)
    """Failed verifications of one customer account, across all conversations and workers, before the account's
    verification is locked for ``lockout_seconds``."""
    max_failures_per_client: int = Field(default=10, ge=1, le=1000)
    """Failed verifications from one client source (any accounts) before that source is locked."""
    lockout_seconds: float = Field(default=900.0, gt=0, le=86_400 * 7)
    """How long a customer or client lock lasts (the cooldown); failures older than this are forgotten."""


class RestChannelConfig(_Strict):
    """The Rasa REST channel (``POST /webhooks/rest/webhook``): the channel for trusted backends."""

    open: bool = False
    """Serve the REST channel without ``CARELINE_REST_TOKEN``. Anyone who can reach it can then talk as any
    ``sender``; ``careline serve`` refuses to start an open REST channel unless this is true (the bundled demo
    aside) and logs a warning when it is."""


class ChannelsConfig(_Strict):
    """Settings of the channels that are not configured elsewhere."""

    rest: RestChannelConfig = RestChannelConfig()


class ProjectConfig(_Strict):
    """``config.yml``: the assistant and its pipeline."""

    recipe: str | None = None
    """Accepted for Rasa compatibility; ignored."""
    assistant_id: str = "careline"
    """Name of this assistant (in logs and metrics)."""
    language: str = "en"
    """Language of the NLU data and responses."""
    locale: Annotated[str, Field(pattern=r"^[a-z]{2}-[A-Z]{2}$")] = "en-US"
    """How customers write dates and phone numbers (``en-GB``: 10/12/1985 is 10 December, national numbers are
    British first; ``en-US``: 12/10/1985 is 10 December, American first)."""
    llm: LLMConfig | None = None
    """Opt-in OpenAI-compatible LLM; the default bot uses none. (Declared before ``nlu``, which checks it.)"""
    nlu: NLUConfig = NLUConfig()
    """Understanding settings."""
    knowledge: KnowledgeConfig = KnowledgeConfig()
    """Knowledge retriever settings."""
    limits: Limits = Limits()
    """Input bounds."""
    auth: AuthConfig = AuthConfig()
    """Verification sessions: idle expiry, step-up for account changes, lockouts across conversations."""
    channels: ChannelsConfig = ChannelsConfig()
    """The REST channel's exposure."""
    widget: WidgetConfig = WidgetConfig()
    """The embeddable web chat: allowed origins, brand colour, title, greeting, rate limit."""
    action_endpoint: str | None = None
    """URL of a Rasa action server; unset runs actions in-process."""
    backend: BackendConfig = BackendConfig()
    """The business systems the shipped actions call: the demo backend (default) or a real one over HTTP."""
    voice: VoiceConfig = VoiceConfig()
    """The phone channel: VAD, turn-taking, STT, TTS, DTMF, call transfer (see bot/project/channels.py)."""
    handoff: HandoffConfig = HandoffConfig()
    """Queue routing, CSAT, masking and helpdesk connectors for human handoff."""
    customers: CustomersConfig = CustomersConfig()
    """One customer across channels: resuming open matters, the widget's signed identity token."""
    retention: RetentionConfig = RetentionConfig()
    """How long transcripts, sensitive slots, voice audio, QA scores and audit rows are kept."""
    outbound: OutboundConfig = OutboundConfig()
    """Outbound campaigns: who is calling, what is said before verification, default rules (bot/outbound)."""
    pipeline: list[dict[str, Any]] | None = None
    """Accepted for Rasa compatibility; ignored."""
    policies: list[dict[str, Any]] | None = None
    """Accepted for Rasa compatibility; ignored."""

    @field_validator("nlu")
    @classmethod
    def _llm_for_commands(cls, nlu: NLUConfig, info: ValidationInfo) -> NLUConfig:
        if nlu.llm_commands != "off" and "llm" in info.data and info.data["llm"] is None:
            raise PydanticCustomError("llm_required", "llm_commands: {mode} needs an llm: section (base_url, model)",
                                      {"mode": nlu.llm_commands})
        return nlu


class ButtonSpec(_Strict):
    """A quick-reply button of a response."""

    title: str
    """Shown to the customer."""
    payload: str
    """Sent back when chosen (text, or ``/intent{...}`` like Rasa)."""


class ResponseVariant(_Strict):
    """One variant of a response; ``{slot}`` placeholders are filled from slots."""

    text: str = ""
    """What the bot says (a variant may instead have only ``image`` or ``custom``, as in Rasa)."""
    buttons: list[ButtonSpec] = Field(default_factory=list)
    """Quick replies."""
    image: str | None = None
    """URL of an image (Rasa's ``image:``); kept for the channels, which send text and buttons today."""
    custom: dict[str, Any] | None = None
    """Channel-specific JSON (Rasa's ``custom:``); kept for the channels, which send text and buttons today."""
    channel: str | None = None
    """Use this variant only on this channel (``web``, ``voice``...)."""
    condition: list[dict[str, Any]] | None = None
    """Rasa-style conditions on slots."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form data passed to the channel."""

    @model_validator(mode="after")
    def _says_something(self) -> ResponseVariant:
        if not self.text and self.image is None and self.custom is None:
            raise PydanticCustomError("empty_response", "a response variant needs text, image or custom")
        return self


SlotType = Literal["text", "bool", "float", "categorical", "any", "list"]


class SlotSpec(_Strict):
    """A slot: a named value the bot remembers."""

    type: SlotType = "text"
    """Value type."""
    values: list[str] | None = None
    """Allowed values of a categorical slot."""
    initial_value: Any = None
    """Value at the start of a conversation."""
    influence_conversation: bool | None = None
    """Accepted for Rasa compatibility."""
    mappings: list[dict[str, Any]] = Field(default_factory=list)
    """How the slot is filled: ``from_entity``, ``from_text``, ``custom``... (Rasa form)."""
    sensitive: bool = False
    """Masked in logs and for viewers without the right role (PINs, dates of birth...)."""


class Domain(_Strict):
    """``domain.yml``: what the bot can say and remember."""

    version: str | None = None
    """Rasa domain format version (accepted, not checked)."""
    intents: list[str] = Field(default_factory=list)
    """Intents (normally taken from the NLU data)."""
    entities: list[str] = Field(default_factory=list)
    """Entity types."""
    slots: dict[str, SlotSpec] = Field(default_factory=dict)
    """Slots by name."""
    responses: dict[str, list[ResponseVariant]] = Field(default_factory=dict)
    """Responses by name (``utter_*``), each with one or more variants."""
    actions: list[str] = Field(default_factory=list)
    """Custom actions (``action_*``) the flows may run."""
    session_config: dict[str, Any] | None = None
    """Accepted for Rasa compatibility."""


class NLUItem(_Strict):
    """One entry of a Rasa NLU file (``- intent:``, ``- synonym:``, ``- regex:`` or ``- lookup:``)."""

    intent: str | None = None
    """Intent name."""
    synonym: str | None = None
    """Canonical entity value for the examples."""
    regex: str | None = None
    """Entity type the regex examples extract."""
    lookup: str | None = None
    """Entity type the lookup examples list."""
    examples: str
    """Block of ``- example`` lines."""
    metadata: dict[str, Any] | None = None
    """Accepted for Rasa compatibility."""


class NLUFile(_Strict):
    """One YAML file of ``nlu/`` in Rasa's NLU format."""

    version: str | None = None
    """Rasa format version (accepted, not checked)."""
    nlu: list[NLUItem] = Field(default_factory=list)
    """Training data."""


class HumanRequest(_Strict):
    """Phrases that always mean "let me talk to a person"."""

    phrases: list[str] = Field(
        default_factory=lambda: ["human", "agent", "real person", "operator", "representative", "someone real"]
    )
    """Matched as whole words, case-insensitively."""
    dtmf: str = "0"
    """Key that asks for a human on voice."""


class RegulatedCategory(_Strict):
    """A topic the bot must not handle alone: found by keywords and by similarity to its examples."""

    description: str
    """What the topic is (also used as one more example for similarity)."""
    examples: list[str] = Field(default_factory=list)
    """Customer messages on this topic; a message close to one of them (cosine) scores that similarity."""
    keywords: list[str] = Field(default_factory=list)
    """Phrases matched as whole words, case-insensitively; a match scores 1.0."""
    safety: bool = False
    """Self-harm or danger: always escalates with top priority and shows the safety message."""
    team: str | None = None
    """Team to route the escalation to (``None`` lets routing decide)."""


class EmotionConfig(_Strict):
    """The emotion detector: an embedding classifier plus conversation trend and surface cues."""

    enabled: bool = True
    """Run the detector."""
    model: str | None = None
    """Path (relative to the project) of a trained emotion head JSON; default: the bundled GoEmotions head."""
    trend_turns: int = Field(default=4, ge=2, le=20)
    """How many recent customer messages the trend (rising negativity, repeated complaints) looks at."""
    profanity: list[str] = Field(default_factory=lambda: [
        "fuck", "fucking", "fucked", "shit", "shitty", "crap", "crappy", "damn", "bloody", "bullshit", "wtf",
        "idiot", "idiots", "morons", "bastards",
    ])
    """Swear words and insults (whole words, case-insensitive); one raises anger as a 0.5 cue."""
    complaints: list[str] = Field(default_factory=lambda: [
        "third time", "fourth time", "still waiting", "still not", "still hasn't", "still haven't", "nobody has",
        "no one has", "fed up", "sick of", "sick and tired", "unacceptable", "disgrace", "disgraceful", "worst",
        "not happy", "useless", "pathetic", "ridiculous", "joke", "scam", "rip off", "rip-off", "never again",
        "waste of time", "how many times",
    ])
    """Customer-service complaint phrases the Reddit-trained model under-rates; one is a 0.4 anger cue."""
    command_words: list[str] = Field(default_factory=lambda: [
        "stop", "cancel", "undo", "forget", "no", "nope", "nah", "wait", "scrap",
    ])
    """Words the emotion model's words part ignores: in a support chat they are instructions ("Stop here",
    "cancel that", "no"), not the annoyance they mark on Reddit."""


class ComplexityConfig(_Strict):
    """When a conversation is too complex for the bot."""

    low_confidence: float = Field(default=0.5, ge=0, le=1)
    """Understanding below this confidence counts as not understood."""
    low_confidence_turns: int = Field(default=2, ge=1)
    """Consecutive not-understood turns before the signal fires."""
    fallback_turns: int = Field(default=2, ge=1)
    """Fallback answers ("I didn't get that", "I don't know") among the last turns before the signal fires."""
    max_chars: int = Field(default=600, ge=50)
    """Messages longer than this are complex."""
    max_requests: int = Field(default=3, ge=2)
    """This many distinct requests (questions, "and also" clauses) in one message are complex."""
    repeat_similarity: float = Field(default=0.9, ge=0, le=1)
    """A message at least this similar (cosine) to an earlier one of the customer is the same question again."""


class SafetyConfig(_Strict):
    """Prompt injection, other customers' data, PII."""

    injection_patterns: list[str] = Field(default_factory=list)
    """Extra regular expressions (case-insensitive) that mark a prompt-injection attempt."""
    other_customer_patterns: list[str] = Field(default_factory=list)
    """Extra regular expressions that mark a request for someone else's data."""


class PolicyRule(_Strict):
    """Thresholds on one category's score; the strongest action whose threshold is reached wins."""

    offer_human: float | None = Field(default=None, ge=0, le=1)
    """From this score the bot offers a person and carries on."""
    escalate: float | None = Field(default=None, ge=0, le=1)
    """From this score the conversation is handed to humans now."""
    block: float | None = Field(default=None, ge=0, le=1)
    """From this score the bot refuses and stays safe."""
    reason: str | None = None
    """Escalation reason (default: the category's family: emotional, regulated, complex, safety, requested)."""
    team: str | None = None
    """Team to route to."""


def default_policy_rules() -> dict[str, PolicyRule]:
    return {
        "requested": PolicyRule(escalate=0.5, reason="requested"),
        "anger": PolicyRule(offer_human=0.7, escalate=0.95),
        "sadness": PolicyRule(offer_human=0.75),
        "fear": PolicyRule(offer_human=0.75),
        "frustration": PolicyRule(offer_human=0.5, escalate=0.75),
        "low_confidence": PolicyRule(offer_human=0.5),
        "repeated_fallback": PolicyRule(offer_human=0.5, escalate=0.8),
        "multiple_requests": PolicyRule(offer_human=0.6),
        "long_message": PolicyRule(offer_human=0.5),
        "repeated_question": PolicyRule(offer_human=0.6, escalate=0.95),
        "prompt_injection": PolicyRule(block=0.7),
        "other_customer_data": PolicyRule(block=0.7),
        "self_harm": PolicyRule(escalate=0.5),
        "danger": PolicyRule(escalate=0.5),
    }


class PolicyConfig(_Strict):
    """Signals → decisions (continue, offer_human, escalate, block)."""

    rules: dict[str, PolicyRule] = Field(default_factory=default_policy_rules)
    """Rules by signal category, merged over the defaults (name a category to change it)."""
    regulated: PolicyRule = PolicyRule(escalate=0.55, reason="regulated")
    """Rule for regulated categories without their own entry in ``rules``."""
    escalate_after_offer: bool = True
    """A category that fires again within two turns of an offer escalates instead of offering again."""
    safety_message: str = (
        "If you are in danger or thinking about harming yourself, please call the emergency services on 999 "
        "(or 112) now. In the UK and Ireland you can talk to Samaritans any time on 116 123. "
        "I'm connecting you with a member of our team."
    )
    """Shown to the customer whenever a safety category (self-harm, danger) fires."""


class AutomationScope(_Strict):
    """What the bot may automate; everything else goes to humans (reason ``scope``)."""

    automation: bool = True
    """Global switch: off hands every conversation to humans at its next turn."""
    flows: dict[str, bool] = Field(default_factory=dict)
    """Per-flow switches (missing means on)."""
    channels: dict[str, bool] = Field(default_factory=dict)
    """Per-channel switches (``web``, ``voice``, ``rest``...; missing means on)."""
    intents: dict[str, bool] = Field(default_factory=dict)
    """Per-intent switches (missing means on)."""
    rollout: float = Field(default=100.0, ge=0, le=100)
    """Percentage of new conversations the bot serves; the rest go straight to humans."""


class BreakerConfig(_Strict):
    """Automatic roll-back: a flow whose rolling rates cross these bounds is switched off."""

    enabled: bool = True
    """Watch the flows."""
    window_turns: int = Field(default=50, ge=5)
    """Rates are over at most this many recent turns of the flow."""
    window_seconds: float = Field(default=900.0, gt=0)
    """... and only turns younger than this."""
    min_turns: int = Field(default=20, ge=1)
    """No verdict before the window holds this many turns."""
    max_escalation_rate: float = Field(default=0.5, gt=0, le=1)
    """Share of the flow's turns that ended in a handoff."""
    max_negative_rate: float = Field(default=0.4, gt=0, le=1)
    """Share of the flow's turns with an emotional guardrail decision."""
    max_error_rate: float = Field(default=0.2, gt=0, le=1)
    """Share of the flow's turns with a failed action or an internal error."""
    notify_url: str | None = None
    """Webhook (POST JSON) told when the breaker trips; the log and the scope history always are."""


class GuardrailsConfig(_Strict):
    """``guardrails.yml``: detectors, their thresholds and the policy."""

    human_request: HumanRequest = HumanRequest()
    """Explicit requests for a human."""
    categories: dict[str, RegulatedCategory | None] = Field(default_factory=dict)
    """Regulated categories, merged over the bundled taxonomy; ``name: null`` removes a bundled one."""
    default_categories: bool = True
    """Start from the bundled taxonomy (legal, regulator, data protection, medical, financial, vulnerability,
    self-harm, danger, fraud)."""
    emotion: EmotionConfig = EmotionConfig()
    """The emotion detector."""
    complexity: ComplexityConfig = ComplexityConfig()
    """The complexity detector."""
    safety: SafetyConfig = SafetyConfig()
    """Injection, other customers' data, PII."""
    policy: PolicyConfig = PolicyConfig()
    """Signal → decision mapping."""
    scope: AutomationScope = AutomationScope()
    """The automation scope before ops change it (version 1 of the history)."""
    breaker: BreakerConfig = BreakerConfig()
    """The circuit breaker."""
