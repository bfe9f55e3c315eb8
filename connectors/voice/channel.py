"""The phone line's cepstral mean: where pocketsphinx's live normalization starts on a call.

pocketsphinx normalizes each feature frame by a running cepstral mean (live CMN) that it learns from
the audio as it goes. Its en-US model starts that mean at values for wideband microphone speech; 8 kHz
μ-law audio upsampled to 16 kHz sits far from them, so a call's first utterance was recognized from a
badly normalized signal (measured on synthetic calls: 74 % WER for a fresh decoder's first utterance,
against 18 % when it starts from the line's mean). The mean is a property of the channel, not of the
caller or the words: it is measured once per speech model by sending a standard reading passage (the
"Rainbow Passage", not anything a test or benchmark says) through the same line — espeak-ng, 8 kHz,
μ-law, back to 16 kHz — and the decoder then keeps adapting to the real caller as the call goes on.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from bot.infra.logs import get_logger

log = get_logger(__name__)

PASSAGE = ("When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. "
           "The rainbow is a division of white light into many beautiful colors. These take the shape of a "
           "long round arch, with its path high above, and its two ends apparently beyond the horizon.")
LINE_RATE = 8000
DECODER_RATE = 16000


def phone_line(samples_8k: np.ndarray) -> np.ndarray:
    """8 kHz samples as the recognizer hears them after a μ-law phone line: μ-law round trip, 16 kHz."""
    import soxr

    from connectors.voice.caller import ulaw_decode, ulaw_encode

    line = ulaw_decode(ulaw_encode(samples_8k))
    upsampled = soxr.resample(line.astype(np.float32) / 32768, LINE_RATE, DECODER_RATE)
    return (np.clip(upsampled, -1, 1) * 32767).astype(np.int16)


def measure_line_cmn(lm: str, dictionary: str, *, binary: str = "espeak-ng", voice: str = "en-us") -> str | None:
    """The cepstral mean of :data:`PASSAGE` spoken over the phone line, as pocketsphinx's ``cmninit``
    string; ``None`` when espeak-ng is missing or fails (the model's default start is used then)."""
    from pocketsphinx import Decoder

    from connectors.voice.caller import line_audio

    executable = shutil.which(binary)
    if executable is None:
        log.warning("voice_line_cmn_skipped", reason=f"{binary} not found")
        return None
    try:
        wav = subprocess.run([executable, "-v", voice, "--stdout", PASSAGE],  # noqa: S603 - fixed argv
                             capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("voice_line_cmn_skipped", reason=str(exc))
        return None
    audio = phone_line(line_audio(wav))
    decoder = Decoder(lm=lm, dict=dictionary, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(audio.tobytes(), False, True)
    decoder.end_utt()
    cmn = str(decoder.get_cmn(False))
    log.info("voice_line_cmn_measured", cmn=cmn)
    return cmn
