from veil.evaluation import dataset
from veil.training.exclusions import is_evaluation_record, without_evaluation


def test_evaluation_records_are_excluded_by_id_and_by_text():
    record = dataset.build()[0]
    assert is_evaluation_record(record.id, "anything")
    assert is_evaluation_record("replayed-123", record.text)  # same text under a new id
    kept = list(without_evaluation([(record.id, record.text), ("prod-1", "a new log line")]))
    assert kept == [("prod-1", "a new log line")]
