"""The spaCy runtime NER reads with: a pipeline loaded from a local folder (no download), fast to start
and tuned for short windows on CPU.

What lives here and nowhere else: keeping torch out of thinc's import, serving ``spacy.cli`` with a
stand-in while spaCy loads, loading without other packages' spaCy plugins, building the saved
tokenizer once, and the NumPy ops (:class:`InferenceOps`) the model runs on. The detector that maps
the model's entities to findings is ``veil.detectors.ner``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# thinc imports torch when it is installed (2 s of start-up, with the train extra) though this NER
# never uses it: hide torch while thinc loads, unless the process already has it.
_HIDE_TORCH = "torch" not in sys.modules
if _HIDE_TORCH:
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError
try:
    from thinc.api import NumpyOps, get_current_ops, set_current_ops
finally:
    if _HIDE_TORCH:
        del sys.modules["torch"]


def load_for_inference(model_path: Path):
    """The spaCy pipeline (tokenizer, tok2vec, ner only) built on :class:`InferenceOps`.

    A layer keeps the ops it was built with, so other spaCy pipelines in the process are untouched.
    """
    spacy = _import_spacy()
    ops, previous = InferenceOps(), get_current_ops()
    set_current_ops(ops)
    try:
        nlp = _load_builtin_first(spacy, model_path)
    finally:
        set_current_ops(previous)
    for _, pipe in nlp.pipeline:
        for node in pipe.model.walk():
            ops.freeze([node.get_param(name) for name in node.param_names if node.has_param(name)])
    return nlp


def _import_spacy():
    """``import spacy`` without its command-line package.

    ``spacy/__init__`` imports ``spacy.cli`` for one function (``spacy.info``), and with it jinja2,
    requests, httpx and weasel: 0.26 s of every ``veil redact``'s start-up, 60% of importing
    spaCy. Here a stand-in serves that import and is removed at once: ``spacy.info`` and a later
    ``import spacy.cli`` load the real package.
    """
    if "spacy" in sys.modules:
        return sys.modules["spacy"]
    import types

    def info(*args, **kwargs):  # spacy.info, loaded when called
        from spacy.cli.info import info as real

        return real(*args, **kwargs)

    package, module = types.ModuleType("spacy.cli"), types.ModuleType("spacy.cli.info")
    package.__path__ = []
    module.info = info
    sys.modules["spacy.cli"], sys.modules["spacy.cli.info"] = package, module
    try:
        import spacy
    finally:
        for name, stand_in in (("spacy.cli.info", module), ("spacy.cli", package)):
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
        parent = sys.modules.get("spacy")
        if parent is not None and getattr(parent, "cli", None) is package:
            delattr(parent, "cli")
    return spacy


def _load_builtin_first(spacy, model_path: Path):
    """``spacy.load`` without importing other packages' spaCy plugins, unless the pipeline needs one.

    spaCy imports every installed package's ``spacy_factories`` entry point whenever it builds a
    pipeline. One such plugin (Presidio's, which imports torch and transformers) made start-up
    3.5 s slower, though the pipelines Veil ships use spaCy's own components only.
    """
    exclude = ["parser", "lemmatizer", "tagger", "attribute_ruler", "senter"]
    config = _saved_tokenizer_config(spacy, Path(model_path))
    plugins = spacy.util.registry._entry_point_factories
    plugins.entry_points = False
    try:
        nlp = spacy.load(model_path, exclude=exclude, config=config)
    except (ValueError, KeyError):  # a component from a plugin: load the usual way
        nlp = None
    finally:
        plugins.entry_points = True
    if nlp is None:
        nlp = spacy.load(model_path, exclude=exclude)
    # en_core_web_sm's NER has its own embedding layers; the shared tok2vec then feeds only the
    # excluded tagger and parser and would cost a third of the time for nothing
    if "tok2vec" in nlp.pipe_names and not nlp.get_pipe("tok2vec").listening_components:
        nlp.remove_pipe("tok2vec")
    return nlp


_SAVED_TOKENIZER = "veil.saved_tokenizer.v1"


def _saved_tokenizer_config(spacy, model_path: Path) -> dict:
    """Config overrides that build the pipeline's tokenizer empty when its saved state replaces it.

    spaCy builds the language's default tokenizer (1,347 special cases for English, each checked
    by tokenizing it, and the punctuation patterns) and then ``from_disk`` loads the saved one over
    it: the first build is thrown away, 0.2 s of every start-up. For spaCy's own tokenizer with a
    saved state an empty one is built instead; the saved state sets every rule and pattern, so the
    result is the same (a test compares the two tokenizers' bytes). Any other tokenizer: no change.
    """
    try:
        saved = spacy.util.load_config(model_path / "config.cfg")["nlp"]["tokenizer"]
    except (OSError, KeyError, ValueError):
        return {}
    if saved.get("@tokenizers") != "spacy.Tokenizer.v1" or not (model_path / "tokenizer").exists():
        return {}
    from spacy.tokenizer import Tokenizer

    spacy.util.registry.tokenizers.register(_SAVED_TOKENIZER, func=lambda: lambda nlp: Tokenizer(nlp.vocab))
    return {"nlp": {"tokenizer": {"@tokenizers": _SAVED_TOKENIZER}}}


class InferenceOps(NumpyOps):
    """NumPy ops for a model that only predicts, tuned for the short windows NER sees.

    Two measured costs of spaCy's defaults on such inputs (AVX-512 EPYC, a 10-20 token window):
    the bundled BLIS kernels multiply these small matrices 4-6x slower than NumPy's BLAS, and
    ``x @ W.T`` with a transposed weight view is ~3x slower than with a row-major copy of ``W.T``.
    So this uses NumPy and keeps one transposed copy of each frozen weight matrix; together they
    make a window about 40% faster. Arrays that are not frozen parameters (the model's own buffers,
    registered with :meth:`freeze` once loaded) take the usual path.
    """

    name = "veil-inference"

    def __init__(self) -> None:
        super().__init__(use_blis=False)
        self._frozen: set[int] = set()
        self._transposed: dict[tuple, np.ndarray] = {}

    def freeze(self, params) -> None:
        """Register parameter arrays that will not change while these ops live."""
        self._frozen.update(p.ctypes.data for p in params if isinstance(p, np.ndarray))

    def gemm(self, x, y, out=None, trans1=False, trans2=False):
        if trans2 and not trans1 and out is None and y.ndim == 2 and y.ctypes.data in self._frozen:
            key = (y.ctypes.data, y.shape, y.strides)
            yt = self._transposed.get(key)
            if yt is None:
                yt = self._transposed[key] = np.ascontiguousarray(y.T)
            return x @ yt
        return super().gemm(x, y, out=out, trans1=trans1, trans2=trans2)
