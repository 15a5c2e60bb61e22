/*
 * The pipeport raw-row contract in JavaScript: the same for Node.js and the browser.
 *
 * Why one shared file: the server, the Node client and the web page must all accept and refuse
 * exactly the same rows and return exactly the same predictions, and the parity tests prove it.
 * The runtime-specific part (where the bytes come from, which `ort` package) stays outside; this
 * file only needs an `ort.Tensor` constructor and an InferenceSession-like object.
 *
 * Contract: docs/onnx-contract.md; the Python side is pipeport/contract.py, and
 * tests/fixtures/contract_cases.json (written by hand) proves that both accept, refuse and encode
 * the same rows the same way. A row is a JSON object keyed by raw column names.
 *   numeric column     -> number or null -> float64 tensor [N, 1], null as NaN; also true/false
 *                         (1/0) where the training column held booleans (input.values "booleans")
 *   categorical column -> string, number, boolean or null -> string tensor [N, 1]: a number or a
 *                         boolean is normalised as training normalised it (3 -> "3", 2.5 -> "2.5",
 *                         true -> "True"), null (and "") as "" (the missing-value sentinel)
 * A missing key, an unknown key (other than the model's unused_columns), a wrong JSON type, a
 * non-finite number, a missing value where the model refuses one (missing_allowed false) and an
 * unseen value where it refuses them (unknown_categories "error") are a PipeportInputError
 * naming the row (0-based index in the list given), the field and the value.
 *
 * UMD: `require('../common/raw-rows.js')` in Node.js, or a <script> tag in a browser, which
 * defines `window.PipeportRawRows`. No dependencies.
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.PipeportRawRows = factory();
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const METADATA_KEY = 'pipeport';
  const SUPPORTED_FORMAT_VERSIONS = [1, 2];
  const CATEGORICAL_MISSING = '';
  const DEFAULT_BATCH_SIZE = 1024;

  /** A row that breaks the raw-row contract. `row` is its 0-based index, `field` the column. */
  class PipeportInputError extends Error {
    constructor(row, field, problem) {
      super(field === null ? `row ${row}: ${problem}` : `row ${row}, field ${JSON.stringify(field)}: ${problem}`);
      this.name = 'PipeportInputError';
      this.row = row;
      this.field = field;
    }
  }

  /** A file that is not a usable pipeport model (no metadata, or metadata that disagrees with the graph). */
  class PipeportModelError extends Error {
    constructor(message) {
      super(message);
      this.name = 'PipeportModelError';
    }
  }

  function describeJsonType(value) {
    if (value === null) return 'null';
    if (Array.isArray(value)) return 'array';
    if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
    if (typeof value === 'number') return 'number';
    if (typeof value === 'string') return 'string';
    if (typeof value === 'boolean') return 'boolean';
    return typeof value;
  }

  /**
   * Parse and check the "pipeport" metadata document.
   * @param {Object<string,string>} metadataProps all metadata_props of the file
   * @returns {object} the parsed document (inputs, outputs, task, classes, ...)
   */
  function parseSchema(metadataProps) {
    const text = metadataProps[METADATA_KEY];
    if (text === undefined) {
      const keys = Object.keys(metadataProps);
      throw new PipeportModelError(
        `the ONNX file has no metadata_props key "${METADATA_KEY}" (keys present: ` +
          `${keys.length ? keys.join(', ') : 'none'}); export it with \`pipeport export\``,
      );
    }
    let schema;
    try {
      schema = JSON.parse(text);
    } catch (err) {
      throw new PipeportModelError(`metadata "${METADATA_KEY}" is not valid JSON: ${err.message}`);
    }
    if (!SUPPORTED_FORMAT_VERSIONS.includes(schema.format_version)) {
      throw new PipeportModelError(
        `metadata format_version ${schema.format_version} is not supported by this client ` +
          `(it reads versions ${SUPPORTED_FORMAT_VERSIONS.join(', ')}); use a matching pipeport client`,
      );
    }
    if (!Array.isArray(schema.inputs) || schema.inputs.length === 0) {
      throw new PipeportModelError('metadata has no "inputs"');
    }
    for (const input of schema.inputs) {
      if (input.kind !== 'numeric' && input.kind !== 'categorical') {
        throw new PipeportModelError(
          `input ${JSON.stringify(input.name)} has kind ${JSON.stringify(input.kind)}; ` +
            'expected "numeric" or "categorical"',
        );
      }
    }
    const outputs = schema.outputs || {};
    if (schema.task === 'classification') {
      if (!outputs.label || !Array.isArray(schema.classes)) {
        throw new PipeportModelError('classification metadata needs outputs.label and classes');
      }
    } else if (schema.task === 'regression') {
      if (!outputs.prediction) throw new PipeportModelError('regression metadata needs outputs.prediction');
    } else if (schema.task === 'anomaly') {
      // an outlier detector (IsolationForest): label -1 (outlier) or 1 (inlier), score_samples
      if (!outputs.label || !outputs.score) {
        throw new PipeportModelError('anomaly metadata needs outputs.label and outputs.score');
      }
    } else {
      throw new PipeportModelError(
        `metadata task ${JSON.stringify(schema.task)}; expected "classification", "regression" ` +
          'or "anomaly" (a newer pipeport client may know it)',
      );
    }
    return schema;
  }

  /** The ONNX output names to fetch, in a fixed order. */
  function outputNames(schema) {
    const o = schema.outputs;
    if (schema.task === 'anomaly') return [o.label.onnx_name, o.score.onnx_name];
    return schema.task === 'classification'
      ? [o.label.onnx_name, ...(o.probabilities ? [o.probabilities.onnx_name] : [])]
      : [o.prediction.onnx_name];
  }

  /** Refuse, at load time, a file whose graph does not have the inputs and outputs its metadata names. */
  function checkSessionMatchesSchema(schema, sessionInputNames, sessionOutputNames) {
    const have = new Set(sessionInputNames);
    for (const input of schema.inputs) {
      if (!have.has(input.onnx_name)) {
        throw new PipeportModelError(
          `metadata input ${JSON.stringify(input.name)} maps to ONNX input ` +
            `${JSON.stringify(input.onnx_name)}, which the graph does not have ` +
            `(graph inputs: ${sessionInputNames.join(', ')})`,
        );
      }
    }
    const haveOut = new Set(sessionOutputNames);
    for (const name of outputNames(schema)) {
      if (!haveOut.has(name)) {
        throw new PipeportModelError(
          `metadata names ONNX output ${JSON.stringify(name)}, which the graph does not have ` +
            `(graph outputs: ${sessionOutputNames.join(', ')})`,
        );
      }
    }
  }

  /**
   * Python's repr() of a float that is not a whole number: the shortest digits that round-trip
   * (as JavaScript's own), laid out as Python lays them out (1e-05, not 1e-5 or 0.00001).
   */
  function pythonFloatRepr(x) {
    const [mantissa, exponentText] = x.toExponential().split('e');
    const exponent = Number(exponentText);
    const negative = mantissa.startsWith('-');
    const digits = mantissa.replace('-', '').replace('.', '');
    const sign = negative ? '-' : '';
    if (exponent >= -4 && exponent < 16) {
      if (exponent >= 0) {
        const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
        const fraction = digits.slice(exponent + 1);
        return `${sign}${whole}${fraction ? '.' + fraction : '.0'}`;
      }
      return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
    }
    const head = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const magnitude = String(Math.abs(exponent)).padStart(2, '0');
    return `${sign}${head}e${exponent < 0 ? '-' : '+'}${magnitude}`;
  }

  /** A number as Python's repr shows it (whole numbers without ".0"), for messages. */
  function pythonNumberRepr(x) {
    return Number.isInteger(x) ? BigInt(x).toString() : pythonFloatRepr(x);
  }

  /** A categorical value as the graph takes it: pipeport's normalisation (pipeport/contract.py). */
  function normaliseCategory(value) {
    if (typeof value === 'string') return value;
    if (typeof value === 'boolean') return value ? 'True' : 'False';
    if (Number.isInteger(value)) return BigInt(value).toString();
    return pythonFloatRepr(value);
  }

  function describeCategories(input) {
    const shown = input.categories.slice(0, 10).map((c) => JSON.stringify(c)).join(', ');
    return input.categories.length > 10 ? `${shown}, … (${input.categories.length} in all)` : shown;
  }

  /**
   * Compile one column's rule: a function from a JSON value to its tensor element, throwing a
   * string (the problem) for a value the contract refuses.
   */
  function columnConverter(input) {
    const missingOk = input.missing_allowed !== false;
    const refuses = input.unknown_categories === 'error';
    const known = refuses ? new Set(input.categories.map((c) => (input.kind === 'numeric' ? Number(c) : String(c)))) : null;
    const unseen = (shown) =>
      `${shown} is not a category this model was trained on (the pipeline refuses unseen values ` +
      `in this column); expected one of ${describeCategories(input)}`;
    if (input.kind === 'numeric') {
      const booleans = input.values === 'booleans';
      const range = input.valid_range || {};
      const tests = {
        greater_than: ['greater than', (x, b) => x > b],
        greater_or_equal: ['at least', (x, b) => x >= b],
        less_than: ['less than', (x, b) => x < b],
        less_or_equal: ['at most', (x, b) => x <= b],
      };
      const bounds = Object.entries(range).map(([key, bound]) => [tests[key], bound]);
      const rule = bounds.map(([[words], bound]) => `${words} ${pythonNumberRepr(bound)}`).join(' and ');
      const why = input.valid_range_reason ? ` (${input.valid_range_reason})` : '';
      return (value) => {
        let number;
        if (value === null) {
          if (!missingOk) throw 'a value is required (this column does not allow missing values)';
          return NaN;
        }
        if (typeof value === 'boolean') {
          if (!booleans) throw 'expected a number or null, got boolean';
          number = value ? 1 : 0;
        } else if (typeof value === 'number') {
          if (!Number.isFinite(value)) throw `non-finite number ${value}; send null for a missing value`;
          number = value;
        } else {
          throw `expected a number${booleans ? ', boolean' : ''} or null, got ${describeJsonType(value)}`;
        }
        if (known !== null && !known.has(number)) throw unseen(String(number));
        for (const [[, test], bound] of bounds) {
          if (!test(number, bound)) {
            throw `${pythonNumberRepr(number)} is outside what this model accepts: it must be ${rule}${why}`;
          }
        }
        return number;
      };
    }
    return (value) => {
      let text;
      if (value === null) text = CATEGORICAL_MISSING;
      else if (typeof value === 'string' || typeof value === 'boolean') text = normaliseCategory(value);
      else if (typeof value === 'number') {
        if (!Number.isFinite(value)) throw `non-finite number ${value}; send null for a missing value`;
        text = normaliseCategory(value);
      } else throw `expected a string, number, boolean or null, got ${describeJsonType(value)}`;
      if (text === CATEGORICAL_MISSING) {
        if (!missingOk) throw 'a value is required (this column does not allow missing values)';
        return text;
      }
      // onnxruntime's string tensors end at NUL here: refused in every runtime
      if (text.includes('\u0000')) throw 'text must not contain the NUL character (U+0000)';
      if (known !== null && !known.has(text)) throw unseen(JSON.stringify(text));
      return text;
    };
  }

  const plans = new WeakMap();

  /** Per-schema work done once: each column's converter, the names a row may carry. */
  function planFor(schema) {
    let plan = plans.get(schema);
    if (!plan) {
      plan = {
        columns: schema.inputs.map((input) => ({ input, convert: columnConverter(input) })),
        known: new Set([...schema.inputs.map((x) => x.name), ...(schema.unused_columns || [])]),
        expected: schema.inputs.map((x) => JSON.stringify(x.name)).join(', '),
      };
      plans.set(schema, plan);
    }
    return plan;
  }

  /**
   * Check and encode rows: {onnx input name: array of tensor elements}. Throws PipeportInputError
   * for the first bad value (row and field named).
   * @param {number} rowOffset added to row indices in messages (for callers that batch)
   */
  function encodeRows(schema, rows, rowOffset = 0) {
    if (!Array.isArray(rows)) {
      throw new TypeError(`predict expects an array of row objects, got ${describeJsonType(rows)}`);
    }
    const plan = planFor(schema);
    const columns = plan.columns.map(() => new Array(rows.length));
    rows.forEach((row, i) => {
      const index = i + rowOffset;
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        throw new PipeportInputError(index, null, `expected a JSON object keyed by raw column names, got ${describeJsonType(row)}`);
      }
      for (const key of Object.keys(row)) {
        if (!plan.known.has(key)) {
          throw new PipeportInputError(index, key, `unknown field; the model takes ${plan.expected}`);
        }
      }
      plan.columns.forEach(({ input, convert }, j) => {
        if (!Object.prototype.hasOwnProperty.call(row, input.name)) {
          throw new PipeportInputError(index, input.name, 'missing field; send null for a missing value');
        }
        try {
          columns[j][i] = convert(row[input.name]);
        } catch (problem) {
          if (typeof problem !== 'string') throw problem;
          throw new PipeportInputError(index, input.name, problem);
        }
      });
    });
    const encoded = {};
    plan.columns.forEach(({ input }, j) => {
      encoded[input.onnx_name] = columns[j];
    });
    return encoded;
  }

  /** Check every row against the schema. Throws PipeportInputError for the first bad one. */
  function validateRows(schema, rows, rowOffset = 0) {
    encodeRows(schema, rows, rowOffset);
  }

  /**
   * Turn rows into the feeds dict of InferenceSession.run (checking them on the way).
   * @param {Function} Tensor the ort.Tensor constructor of the runtime in use
   */
  function rowsToFeeds(schema, rows, Tensor, rowOffset = 0) {
    const encoded = encodeRows(schema, rows, rowOffset);
    const n = rows.length;
    const feeds = {};
    for (const input of schema.inputs) {
      const column = encoded[input.onnx_name];
      feeds[input.onnx_name] =
        input.kind === 'numeric'
          ? new Tensor('float64', Float64Array.from(column), [n, 1])
          : new Tensor('string', column, [n, 1]);
    }
    return feeds;
  }

  /** int64 labels come back as BigInt; JSON and the contract want plain numbers. */
  function toJsonScalar(value) {
    return typeof value === 'bigint' ? Number(value) : value;
  }

  /** A float64 output value as the server's JSON has it: a number, or null when not finite. */
  function finiteOrNull(value) {
    return Number.isFinite(value) ? value : null;
  }

  /** Turn session.run results into contract predictions, in row order. */
  function resultsToPredictions(schema, results, n) {
    const out = new Array(n);
    if (schema.task === 'anomaly') {
      // {label: -1 | 1, score: s}, as the server's /v1/predict answers (score_samples; the
      // decision function is score - schema.offset)
      const labels = results[schema.outputs.label.onnx_name].data;
      const scores = results[schema.outputs.score.onnx_name].data;
      if (labels.length !== n || scores.length !== n) {
        throw new PipeportModelError(
          `outputs have ${labels.length} labels and ${scores.length} scores for ${n} rows`,
        );
      }
      for (let i = 0; i < n; i++) {
        out[i] = { label: toJsonScalar(labels[i]), score: finiteOrNull(scores[i]) };
      }
      return out;
    }
    if (schema.task === 'regression') {
      const data = results[schema.outputs.prediction.onnx_name].data;
      if (data.length !== n) {
        throw new PipeportModelError(`output "prediction" has ${data.length} values for ${n} rows`);
      }
      for (let i = 0; i < n; i++) out[i] = { prediction: data[i] };
      return out;
    }
    const labels = results[schema.outputs.label.onnx_name].data;
    if (!schema.outputs.probabilities) {
      // a classifier without predict_proba (a hard vote, LinearSVC): labels only
      if (labels.length !== n) {
        throw new PipeportModelError(`output "label" has ${labels.length} values for ${n} rows`);
      }
      for (let i = 0; i < n; i++) out[i] = { label: toJsonScalar(labels[i]) };
      return out;
    }
    const probs = results[schema.outputs.probabilities.onnx_name];
    const classKeys = schema.classes.map(String);
    const k = classKeys.length;
    if (labels.length !== n || probs.data.length !== n * k) {
      throw new PipeportModelError(
        `outputs have ${labels.length} labels and ${probs.data.length} probabilities ` +
          `for ${n} rows and ${k} classes`,
      );
    }
    for (let i = 0; i < n; i++) {
      const probabilities = {};
      for (let j = 0; j < k; j++) probabilities[classKeys[j]] = probs.data[i * k + j];
      out[i] = { label: toJsonScalar(labels[i]), probabilities };
    }
    return out;
  }

  /**
   * Wrap a session in the object both clients return from loadModel.
   * @param {object} session an ort InferenceSession (node or web)
   * @param {Function} Tensor the matching ort.Tensor constructor
   * @param {object} schema the parsed "pipeport" metadata
   */
  function createModel(session, Tensor, schema) {
    checkSessionMatchesSchema(schema, session.inputNames, session.outputNames);
    const fetches = outputNames(schema);
    return {
      /** The parsed "pipeport" metadata: inputs, outputs, task, classes, training, parity, ... */
      schema,
      /**
       * Predict raw rows. Every row is validated before any is run, so a bad row never yields a
       * partial answer. Runs in batches of `options.batchSize` (default 1024) rows.
       * `options.rowOffset` is added to the row index in error messages, for callers that
       * feed one large input in several calls.
       * @param {object[]} rows raw rows keyed by raw column names
       * @returns {Promise<object[]>} one prediction per row, in row order
       */
      async predict(rows, options = {}) {
        const offset = options.rowOffset || 0;
        validateRows(schema, rows, offset);
        const batchSize = options.batchSize || DEFAULT_BATCH_SIZE;
        const predictions = [];
        for (let start = 0; start < rows.length; start += batchSize) {
          const batch = rows.slice(start, start + batchSize);
          const results = await session.run(rowsToFeeds(schema, batch, Tensor, offset + start), fetches);
          for (const p of resultsToPredictions(schema, results, batch.length)) predictions.push(p);
        }
        return predictions;
      },
    };
  }

  return {
    METADATA_KEY,
    CATEGORICAL_MISSING,
    PipeportInputError,
    PipeportModelError,
    parseSchema,
    validateRows,
    encodeRows,
    normaliseCategory,
    rowsToFeeds,
    resultsToPredictions,
    checkSessionMatchesSchema,
    createModel,
  };
});
