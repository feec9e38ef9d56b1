"""Veil's detectors vs Presidio's default analyzer, on Veil's labelled evaluation set, in one run.

    .venv/bin/pip install presidio-analyzer        # not a Veil dependency
    .venv/bin/python -m veil.ops.bench.vs_presidio [--json out.json]

Both use the same spaCy model (en_core_web_sm 3.8 from `veil models fetch en-core-web-sm`), so the
comparison is of the detectors, not of model size. Presidio runs with its default recognizers and
score threshold 0; everything it returns is counted as redacted, as its anonymizer would do.
Throughput is measured on the same records, detection only, in this one process.
"""

from __future__ import annotations

import argparse
import time

from veil.batch import BatchEngine
from veil.composition import build_redactor
from veil.evaluation import dataset, scoring
from veil.evaluation.logs import typical_lines
from veil.models import registry
from veil.ops.bench import write_figures
from veil.settings import Settings


def presidio_analyzer(model_path: str):
    import tldextract
    from presidio_analyzer import AnalyzerEngine

    # Presidio's e-mail check would fetch the public-suffix list from the internet; use the bundled copy.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model_path}]})
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])


def presidio_predictions(analyzer, records):
    preds = []
    for r in records:
        results = analyzer.analyze(text=r.text, language="en")
        spans = sorted((x.start, x.end, x.entity_type) for x in results)
        preds.append(scoring.Prediction(id=r.id, redacted_text=_apply(r.text, spans), findings=[
            scoring.PredictedSpan(start=s, end=e, entity=t) for s, e, t in spans]))
    return preds


def _apply(text: str, spans) -> str:
    out, pos = [], 0
    for s, e, t in spans:
        if s < pos:
            continue
        out += [text[pos:s], f"<{t}>"]
        pos = e
    return "".join([*out, text[pos:]])


def throughput(fn, texts) -> float:
    started = time.perf_counter()
    for t in texts:
        fn(t)
    return len(texts) / (time.perf_counter() - started)


def batched(fn, texts, size: int = 256) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), size):
        fn(texts[i:i + size])
    return len(texts) / (time.perf_counter() - started)


def presidio_batch(analyzer):
    from presidio_analyzer import BatchAnalyzerEngine

    engine = BatchAnalyzerEngine(analyzer_engine=analyzer)
    return lambda chunk: list(engine.analyze_iterator(chunk, language="en", batch_size=64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--lines", type=int, default=3000, help="typical log lines for the throughput run")
    args = parser.parse_args()

    settings = Settings()
    model_path = str(registry.fetch("en-core-web-sm", settings.models.cache_dir))
    records = dataset.build()
    engine = BatchEngine(build_redactor(settings))
    analyzer = presidio_analyzer(model_path)

    veil_preds = [scoring.Prediction.model_validate_json(engine.run(r.id, r.text).to_json()) for r in records]
    veil_report = scoring.score(records, veil_preds)
    presidio_report = scoring.score(records, presidio_predictions(analyzer, records))

    lines = typical_lines(args.lines)
    texts = [r.text for r in records]
    veil_scan = engine.redactor.scan
    rates = {
        "veil_logs_per_s": throughput(veil_scan, lines),
        "presidio_logs_per_s": throughput(lambda t: analyzer.analyze(text=t, language="en"), lines),
        "veil_evalset_per_s": throughput(veil_scan, texts),
        "presidio_evalset_per_s": throughput(lambda t: analyzer.analyze(text=t, language="en"), texts),
        # batched: Veil's scan_many (what `veil redact` does) vs Presidio's BatchAnalyzerEngine (nlp.pipe)
        "veil_evalset_batched_per_s": batched(lambda chunk: engine.redactor.scan_many(chunk), texts),
        "presidio_evalset_batched_per_s": batched(presidio_batch(analyzer), texts),
    }
    figures: dict[str, object] = {"records": len(records), "labels": veil_report.labels, **rates}
    for name, rep in (("veil", veil_report), ("presidio", presidio_report)):
        figures[name] = {"groups": rep.groups, "leak_rate": rep.leak_rate,
                         "recall_by_label": {k: round(v.recall, 3) for k, v in sorted(rep.by_label.items())}}
    print(f"{'':24}{'Veil':>10}{'Presidio':>10}")
    for group in ("direct_identifiers", "secrets", "all"):
        for metric in ("precision", "recall", "f1"):
            print(f"{group + ' ' + metric:24}{veil_report.groups[group][metric]:10.3f}"
                  f"{presidio_report.groups[group][metric]:10.3f}")
    print(f"{'leak rate':24}{veil_report.leak_rate:10.3%}{presidio_report.leak_rate:10.3%}")
    print(f"{'log lines/s':24}{rates['veil_logs_per_s']:10.0f}{rates['presidio_logs_per_s']:10.0f}")
    print(f"{'eval records/s':24}{rates['veil_evalset_per_s']:10.0f}{rates['presidio_evalset_per_s']:10.0f}")
    print(f"{'eval records/s batched':24}{rates['veil_evalset_batched_per_s']:10.0f}"
          f"{rates['presidio_evalset_batched_per_s']:10.0f}")
    for key in ("logs", "evalset", "evalset_batched"):
        print(f"speed-up, {key}: {rates[f'veil_{key}_per_s'] / rates[f'presidio_{key}_per_s']:.1f}x")
    write_figures(args.json, figures)


if __name__ == "__main__":
    main()
