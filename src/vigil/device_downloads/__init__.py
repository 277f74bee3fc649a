"""Downloads of recordings kept on devices into MP4 files (GB/T 28181-2016 §9.9)."""

from vigil.device_downloads.jobs import DownloadJob
from vigil.device_downloads.service import DeviceDownloads, DownloadError

__all__ = ["DeviceDownloads", "DownloadError", "DownloadJob"]
