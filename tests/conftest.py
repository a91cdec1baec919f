"""Suite-wide setup.

Triton's and TensorFlow's bundled LLVMs register the same command-line options: importing triton
*after* tensorflow aborts the process ("LLVM ERROR: inconsistency in registered CommandLine
options"), the other order works. A test process may load both (the contract drives every
backend), so triton, when installed, is imported first.
"""

import importlib.util

if importlib.util.find_spec("triton") is not None:
    import triton  # noqa: F401
