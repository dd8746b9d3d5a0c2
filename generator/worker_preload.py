"""Imported once by the worker fork server, so that each worker starts with torch already loaded.

Importing torch, torchvision and fvcore takes seconds; a worker forked from a
process that already holds them starts in milliseconds. Nothing here starts a
thread pool or touches CUDA, so forking afterwards is safe.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import fvcore.nn  # noqa: F401
    import torch
    import torch.utils.flop_counter  # noqa: F401
    import torchvision.models  # noqa: F401

    try:  # optional sources of models: loading them once saves every worker that builds one
        import timm  # noqa: F401
    except ImportError:
        pass
    import generator.counting
    import generator.paper_models
    import generator.registry
    import generator.timing
    import generator.timm_source
    import generator.worker  # noqa: F401
