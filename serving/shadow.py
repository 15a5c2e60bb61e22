"""A shadow model (`pipeport serve NEW.onnx --shadow OLD.onnx`): run on the rows of every logged
request, in the prediction log's writer thread, never on the request path.

The answer is always the served model's; the shadow's outputs (or why it could not answer) go
into the log line beside them, for `pipeport diff --shadow-log`. Each model reads the rows by its
own schema: the shadow takes the columns it knows (and its unused columns) from each row, so a
new model that added a column can be shadowed by the old one, which ignores it. A new model that
dropped a column the old one needs cannot: the served model refuses that column as unknown, so
clients do not send it, and every shadow run is an error. A row the shadow refuses (a column it
needs that the row lacks, a value its contract refuses) makes that request's shadow an error,
counted in /metrics. Nothing the shadow does can reach the client.
"""

from __future__ import annotations

from typing import Any

from pipeport.contract import RawInputError, columns_to_feeds, raw_rows_to_feeds
from pipeport.serving.metrics import Counter, SharedMetrics
from pipeport.serving.model import LoadedModel
from pipeport.serving.outputs import OutputFormatter, to_json

ANSWERED = "pipeport_shadow_total"


def counters() -> list[Counter]:
    return [
        Counter(ANSWERED, "Logged requests the shadow model ran on, by outcome.", (("outcome", o),))
        for o in ("answered", "failed")
    ]


class Shadow:
    """The second model of `--shadow`: loaded once, before the workers fork."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.formatter = OutputFormatter(model.schema)
        self._names = frozenset(model.schema.input_names) | frozenset(model.schema.unused_columns)
        self._model_json = to_json(
            {"name": model.schema.name, "version": model.schema.version, "sha256": model.sha256}
        )

    def answer(self, inputs: Any, metrics: SharedMetrics) -> str:
        """`{"model": …, "predictions": […]}` or `{"model": …, "error": "…"}` (JSON text)."""
        schema = self.model.schema
        try:
            if isinstance(inputs, dict):  # tensors, already in the graph's encoding
                feeds = columns_to_feeds(
                    {k: v for k, v in inputs.items() if k in self._names}, schema
                )
            else:
                names = self._names
                rows = [{k: v for k, v in row.items() if k in names} for row in inputs]
                feeds = raw_rows_to_feeds(rows, schema)
            outputs = self.model.run(self.formatter.onnx_names, feeds)
            predictions = self.formatter.predictions_json(outputs)
        except RawInputError as exc:
            return self._failed(f"the shadow model refuses the rows: {exc}", metrics)
        except Exception as exc:  # noqa: BLE001 (whatever happens, it stays in the log line)
            return self._failed(f"{type(exc).__name__}: {exc}", metrics)
        metrics.add(metrics.counter_index(ANSWERED, (("outcome", "answered"),)))
        return f'{{"model":{self._model_json},"predictions":{predictions}}}'

    def _failed(self, error: str, metrics: SharedMetrics) -> str:
        metrics.add(metrics.counter_index(ANSWERED, (("outcome", "failed"),)))
        return f'{{"model":{self._model_json},"error":{to_json(error[:2000])}}}'
