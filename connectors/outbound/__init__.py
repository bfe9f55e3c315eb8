"""The outbound connector: Twilio calls and messages for :mod:`bot.outbound` campaigns, their webhooks, the
ops API, and a local Twilio stand-in (:mod:`.standin`) to test them without the network."""
