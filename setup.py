"""Build of the optional compiled hot paths; everything else is in pyproject.toml.

``optional=True``: without a C compiler the install still succeeds and Vigil runs on the
pure-Python twins (slower, same results): vigil/media/rtp_lane.py for the per-packet UDP
receive path, vigil/protocols/h264/annexb.py for the start-code scan.
"""

from setuptools import Extension, setup

COMPILE_ARGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]

setup(
    ext_modules=[
        Extension(
            "vigil.media._rtp_fastpath",
            sources=["src/vigil/media/_rtp_fastpath.c"],
            extra_compile_args=COMPILE_ARGS,
            optional=True,
        ),
        Extension(
            "vigil.protocols.h264._annexb_scan",
            sources=["src/vigil/protocols/h264/_annexb_scan.c"],
            extra_compile_args=COMPILE_ARGS,
            optional=True,
        ),
    ]
)
