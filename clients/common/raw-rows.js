/*
 * The pipeport raw-row contract in JavaScript: the same for Node.js and the browser.
 *
 * Why one shared file: the server, the Node client and the web page must all accept and refuse
 * exactly the same rows and return exactly the same predictions, and the parity tests prove it.
 * The runtime-specific part (where the bytes come from, which `ort` package) stays outside; this
 * file only needs an `ort.Tensor` constructor and an InferenceSession-like object.
 *
 * Contract: docs/onnx-contract.md. A row is a JSON object keyed by raw column names.
 *   numeric column     -> JSON number or null  -> float64 tensor [N, 1], null as NaN
 *   categorical column -> JSON string or null  -> string tensor  [N, 1], null as "" (the sentinel)
 * A missing key, an unknown key, a wrong JSON type or a non-finite number is a PipeportInputError
 * naming the row (0-based index in the list given) and the field.
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
  const SUPPORTED_FORMAT_VERSION = 1;
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
    if (schema.format_version !== SUPPORTED_FORMAT_VERSION) {
      throw new PipeportModelError(
        `metadata format_version ${schema.format_version} is not supported by this client ` +
          `(it reads version ${SUPPORTED_FORMAT_VERSION}); use a matching pipeport client`,
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
      if (!outputs.label || !outputs.probabilities || !Array.isArray(schema.classes)) {
        throw new PipeportModelError(
          'classification metadata needs outputs.label, outputs.probabilities and classes',
        );
      }
    } else if (schema.task === 'regression') {
      if (!outputs.prediction) throw new PipeportModelError('regression metadata needs outputs.prediction');
    } else {
      throw new PipeportModelError(
        `metadata task ${JSON.stringify(schema.task)}; expected "classification" or "regression"`,
      );
    }
    return schema;
  }

  /** The ONNX output names to fetch, in a fixed order. */
  function outputNames(schema) {
    const o = schema.outputs;
    return schema.task === 'classification'
      ? [o.label.onnx_name, o.probabilities.onnx_name]
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
   * Check every row against the schema. Throws PipeportInputError for the first bad one.
   * @param {number} rowOffset added to row indices in messages (for callers that batch)
   */
  function validateRows(schema, rows, rowOffset = 0) {
    if (!Array.isArray(rows)) {
      throw new TypeError(`predict expects an array of row objects, got ${describeJsonType(rows)}`);
    }
    const known = new Map(schema.inputs.map((input) => [input.name, input]));
    rows.forEach((row, i) => {
      const index = i + rowOffset;
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        throw new PipeportInputError(index, null, `expected a JSON object keyed by raw column names, got ${describeJsonType(row)}`);
      }
      for (const key of Object.keys(row)) {
        if (!known.has(key)) {
          throw new PipeportInputError(
            index,
            key,
            `unknown field; the model takes ${schema.inputs.map((x) => JSON.stringify(x.name)).join(', ')}`,
          );
        }
      }
      for (const input of schema.inputs) {
        if (!Object.prototype.hasOwnProperty.call(row, input.name)) {
          throw new PipeportInputError(index, input.name, 'missing field; send null for a missing value');
        }
        const value = row[input.name];
        if (value === null) {
          if (input.missing_allowed === false) {
            throw new PipeportInputError(index, input.name, 'null is not allowed for this column');
          }
          continue;
        }
        if (input.kind === 'numeric') {
          if (typeof value !== 'number') {
            throw new PipeportInputError(index, input.name, `expected a number or null, got ${describeJsonType(value)}`);
          }
          if (!Number.isFinite(value)) {
            throw new PipeportInputError(index, input.name, `non-finite number ${value}; send null for a missing value`);
          }
        } else if (typeof value !== 'string') {
          throw new PipeportInputError(index, input.name, `expected a string or null, got ${describeJsonType(value)}`);
        }
      }
    });
  }

  /**
   * Turn already validated rows into the feeds dict of InferenceSession.run.
   * @param {Function} Tensor the ort.Tensor constructor of the runtime in use
   */
  function rowsToFeeds(schema, rows, Tensor) {
    const n = rows.length;
    const feeds = {};
    for (const input of schema.inputs) {
      if (input.kind === 'numeric') {
        const column = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const v = rows[i][input.name];
          column[i] = v === null ? NaN : v;
        }
        feeds[input.onnx_name] = new Tensor('float64', column, [n, 1]);
      } else {
        const column = new Array(n);
        for (let i = 0; i < n; i++) {
          const v = rows[i][input.name];
          column[i] = v === null ? CATEGORICAL_MISSING : v;
        }
        feeds[input.onnx_name] = new Tensor('string', column, [n, 1]);
      }
    }
    return feeds;
  }

  /** int64 labels come back as BigInt; JSON and the contract want plain numbers. */
  function toJsonScalar(value) {
    return typeof value === 'bigint' ? Number(value) : value;
  }

  /** Turn session.run results into contract predictions, in row order. */
  function resultsToPredictions(schema, results, n) {
    const out = new Array(n);
    if (schema.task === 'regression') {
      const data = results[schema.outputs.prediction.onnx_name].data;
      if (data.length !== n) {
        throw new PipeportModelError(`output "prediction" has ${data.length} values for ${n} rows`);
      }
      for (let i = 0; i < n; i++) out[i] = { prediction: data[i] };
      return out;
    }
    const labels = results[schema.outputs.label.onnx_name].data;
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
        validateRows(schema, rows, options.rowOffset || 0);
        const batchSize = options.batchSize || DEFAULT_BATCH_SIZE;
        const predictions = [];
        for (let start = 0; start < rows.length; start += batchSize) {
          const batch = rows.slice(start, start + batchSize);
          const results = await session.run(rowsToFeeds(schema, batch, Tensor), fetches);
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
    rowsToFeeds,
    resultsToPredictions,
    checkSessionMatchesSchema,
    createModel,
  };
});
