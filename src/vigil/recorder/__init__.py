"""Continuous recording of live streams by policy: the use case above ``streams`` that feeds
``recording`` (DESIGN §5-§6). ``Recorder`` decides which channels record; each channel's
``ChannelRecording`` holds a live-play lease and writes segment files with their index rows.
"""

from vigil.recorder.channel_recording import RECORDER_BEHIND, ChannelRecording, stagger_s
from vigil.recorder.service import Recorder, RecorderCollector

__all__ = ["RECORDER_BEHIND", "ChannelRecording", "Recorder", "RecorderCollector", "stagger_s"]
