"""Build of the optional compiled receive path; everything else is in pyproject.toml.

``optional=True``: without a C compiler the install still succeeds and Vigil runs on the
pure-Python receive path (slower, same results; see vigil/media/rtp_lane.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vigil.media._rtp_fastpath",
            sources=["src/vigil/media/_rtp_fastpath.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
