"""``careline call``: phone the bot as a simulated Twilio caller (espeak-ng speech, DTMF keys)."""

from __future__ import annotations

import asyncio

import click

from connectors.voice.config import webhook_auth_token


@click.command()
@click.option("--url", default="http://127.0.0.1:8080", show_default=True, help="Base URL of `careline serve`.")
@click.option("--call-sid", default=None, help="Twilio CallSid to present (default: a new one); the server "
              "names the conversation voice-<CallSid>.")
@click.option("--from", "caller_id", default=None, help="Caller id to present as From (a hint, not an identity).")
@click.option("--voice", default=None,
              help="espeak-ng voice of the caller (default: en-us+f2), or `piper` for the bundled piper voice.")
@click.argument("turns", nargs=-1)
def call(url: str, call_sid: str | None, caller_id: str | None, voice: str | None, turns: tuple[str, ...]) -> None:
    """Call the bot and play TURNS in order: text is spoken, `dtmf:1234#` is keyed.

    Prints each bot reply with its latency (end of caller speech → first bot audio) and what an
    offline recognizer hears in it. With TWILIO_AUTH_TOKEN set, the call's webhook is signed like Twilio's.

        careline call "where is my order" dtmf:02079460011# dtmf:4567# "A one oh oh one"
    """
    from bot.infra.logs import configure_logging
    from connectors.voice.logs import route_pipecat_logs

    configure_logging(level="warning")
    route_pipecat_logs()
    asyncio.run(_call(url, call_sid, caller_id, voice, turns, auth_token=webhook_auth_token()))


async def _call(url: str, call_sid: str | None, caller_id: str | None, voice: str | None, turns: tuple[str, ...],
                *, auth_token: str | None) -> None:
    from connectors.voice.caller import CALLER_VOICE, SimulatedCaller

    async with SimulatedCaller.connect(url, call_sid=call_sid, caller_id=caller_id, auth_token=auth_token or None,
                                       voice=voice or CALLER_VOICE) as caller:
        click.echo(f"conversation: {caller.conversation_id}")
        greeting = await caller.next_reply(within=30)
        click.echo(f"bot ({len(greeting.audio) / 8000:.1f} s): {await caller.transcribe(greeting)}")
        for turn in turns:
            if turn.startswith("dtmf:"):
                click.echo(f"you press: {turn[5:]}")
                await caller.press(turn[5:])
            else:
                click.echo(f"you say: {turn}")
                await caller.say(turn)
            try:
                reply = await caller.next_reply(within=30)
            except TimeoutError:
                click.echo("bot: (silence)")
                continue
            latency = f"{reply.latency_ms:.0f} ms" if reply.latency_ms is not None else "-"
            click.echo(f"bot ({latency}, {len(reply.audio) / 8000:.1f} s): {await caller.transcribe(reply)}")
