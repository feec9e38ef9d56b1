"""Greedy decoding of a spaCy NER component, vectorised over a batch of documents.

spaCy 3.8's compiled greedy parser takes and drops the GIL several times for every token it reads
(its state accessors are not ``noexcept`` under Cython 3): measured with ``perf`` on
en_core_web_sm, 40% of NER time went to ``take_gil``/``drop_gil`` and the decoding loop cost
about as much as the whole neural network. This module runs the same model and the same
transition rules in NumPy instead, one token position at a time for every document of the batch
at once (a NER move always consumes exactly one token, so all states advance in step).

What it reproduces (and what it refuses): the ``ner`` state type with its three context features
(the next token, the first and the last token of the open entity), maxout hidden layer, an output
layer, greedy search (``beam_width`` 1), and documents with no preset entities (Veil makes fresh
``Doc`` objects). :func:`decoder_for` returns ``None`` for any other component, and the caller
keeps spaCy's own decoder. The moves' validity follows ``spacy/pipeline/_parser_internals/ner.pyx``
for documents without presets: B needs no open entity, a label, one more token and a non-space
token; I needs an open entity of the same label and one more token; L an open entity of the same
label; U no open entity, a label and a non-space token; O no open entity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BEGIN, IN, LAST, UNIT, OUT = "BILUO"


@dataclass(frozen=True, slots=True)
class Entity:
    start: int  # token index, inclusive
    end: int  # token index, exclusive
    label: str


class GreedyBiluo:
    """Decode a batch of ``Doc`` objects with one spaCy NER component's weights."""

    def __init__(self, component) -> None:
        model = component.model
        self._tok2vec, self._lower, self._upper = model.layers[0], model.layers[1], model.layers[2]
        names = [component.moves.get_class_name(i) for i in range(component.moves.n_moves)]
        self._labels = [name.partition("-")[2] for name in names]
        kinds = np.array([name[0] for name in names])
        label_ids = {label: k for k, label in enumerate(sorted({lab for lab in self._labels if lab}), start=1)}
        self._label_of = np.array([label_ids.get(lab, 0) for lab in self._labels])
        self._is = {kind: kinds == kind for kind in (BEGIN, IN, LAST, UNIT, OUT)}
        self._is[OUT] = self._is[OUT] & (self._label_of == 0)
        unseen = np.zeros(len(names), dtype=bool)
        unseen[list(model.attrs.get("unseen_classes", ()))] = True
        self._unseen = unseen
        self._bias = self._lower.get_param("b")  # (nO, nP)
        self._W = np.ascontiguousarray(self._upper.get_param("W").T)  # (nO, classes)
        self._b = self._upper.get_param("b")
        # the valid moves of a state by one code: 0-3 no open entity, 2 * (one more token after
        # this one?) + (this token is a space?); 4 + (one more token?) * labels + the open entity's label
        is_b, is_i, is_l, is_u, is_o = (self._is[k] for k in (BEGIN, IN, LAST, UNIT, OUT))
        labelled = self._label_of != 0
        self._n_labels = len(label_ids) + 1
        closed = [(is_b & labelled & bool(more) & (not space)) | (is_u & labelled & (not space)) | is_o
                  for more in (0, 1) for space in (0, 1)]
        same = self._label_of[None, :] == np.arange(self._n_labels)[:, None]  # (labels, moves)
        opened = [(is_i & same[lab] & bool(more)) | (is_l & same[lab] & labelled)
                  for more in (0, 1) for lab in range(self._n_labels)]
        self._valid = np.array(closed + opened)
        self._starts = is_b
        self._continues = ~is_l  # B and I leave an entity open, L closes it; U and O are only valid closed

    def __call__(self, docs: Sequence) -> list[list[Entity]]:
        docs = list(docs)
        out: list[list[Entity]] = [[] for _ in docs]
        live = [i for i, d in enumerate(docs) if len(d)]
        if not live:
            return out
        tokvecs = self._tok2vec.predict([docs[i] for i in live])
        cached, _ = self._lower(tokvecs, is_train=False)  # (tokens + 1, nF, nO, nP); row 0 is padding
        lengths = np.array([len(docs[i]) for i in live])
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        from spacy.attrs import IS_SPACE

        spaces = np.concatenate([np.zeros(1, dtype=bool)] + [docs[i].to_array(IS_SPACE).astype(bool) for i in live])
        moves = self._decode(cached, lengths, offsets, spaces)
        for k, i in enumerate(live):
            out[i] = self._entities(moves[k, : lengths[k]])
        return out

    def _decode(self, cached: np.ndarray, lengths: np.ndarray, offsets: np.ndarray, spaces: np.ndarray) -> np.ndarray:
        """The move taken at each token of each document: an array (documents, longest); the moves
        past a document's end are computed on padding and mean nothing."""
        n, longest = len(lengths), int(lengths.max())
        if cached.shape[1] != 3:
            raise ValueError(f"a NER model with {cached.shape[1]} context features; expected 3")
        f0, f1, f2 = (cached[:, f] for f in range(3))  # each (tokens + 1, nO, nP); row 0 is the padding
        steps = np.arange(longest)
        alive = steps[None, :] < lengths[:, None]
        all_rows = np.where(alive, offsets[:, None] + steps[None, :] + 1, 0)  # (documents, longest)
        # a state's valid moves, by one code: closed, by (one more token?, space?); open, by (one more token?, label)
        code_closed = np.where(alive, (lengths[:, None] - steps[None, :] >= 2) * 2 + spaces[all_rows], 0)
        code_open = np.where(alive, 4 + (lengths[:, None] - steps[None, :] >= 2) * self._n_labels, 4)
        moves = np.empty((n, longest), dtype=np.int64)
        opened = np.zeros(n, dtype=bool)
        open_label = np.zeros(n, dtype=np.int64)
        first = np.zeros(n, dtype=np.int64)  # row of the open entity's first token
        for t in range(longest):
            rows = all_rows[:, t]
            # the same additions in the same order as spaCy's C loop (float32 sums bit for bit)
            summed = f0[rows] + f1[first * opened] + f2[(rows - 1) * opened]
            scores = (summed + self._bias).max(axis=-1) @ self._W + self._b
            if self._unseen.any():
                scores[:, self._unseen] = scores.min()
            valid = self._valid[np.where(opened, code_open[:, t] + open_label, code_closed[:, t])]
            guess = np.where(valid, scores, -np.inf).argmax(axis=1)
            moves[:, t] = guess
            starts = self._starts[guess]
            opened = (opened | starts) & self._continues[guess]
            open_label = np.where(starts, self._label_of[guess], open_label)
            first = np.where(starts, rows, first)
        return moves

    def _entities(self, moves: np.ndarray) -> list[Entity]:
        out, start = [], -1
        for j, m in enumerate(moves.tolist()):
            if self._is[BEGIN][m]:
                start = j
            elif self._is[LAST][m]:
                out.append(Entity(start, j + 1, self._labels[m]))
            elif self._is[UNIT][m]:
                out.append(Entity(j, j + 1, self._labels[m]))
        return out


def decoder_for(component) -> GreedyBiluo | None:
    """A vectorised decoder for this spaCy component, or ``None`` where it would not decode exactly
    as spaCy does (another state type, beam search, a model of another shape)."""
    try:
        from spacy.pipeline import EntityRecognizer
    except ImportError:  # pragma: no cover - spaCy is a dependency
        return None
    if not isinstance(component, EntityRecognizer) or component.cfg.get("beam_width", 1) != 1:
        return None
    model = component.model
    if len(model.layers) != 3 or not model.attrs.get("has_upper", False):
        return None
    lower = model.layers[1]
    if lower.name != "precomputable_affine" or lower.get_dim("nF") != 3 or lower.get_dim("nP") < 2:
        return None
    return GreedyBiluo(component)
