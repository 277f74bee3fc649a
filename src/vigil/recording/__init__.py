"""Recording: segment files and their SQL index, retention, coverage, playback, export.

DESIGN §6. Lower layer than ``streams``: it persists and reads; the use cases that feed it
from live streams live above.
"""
