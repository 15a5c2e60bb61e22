#!/usr/bin/env node
/*
 * Predict raw JSON rows with a pipeport model from the command line.
 *
 *   node clients/node/predict.js MODEL.onnx rows.jsonl     # or `-` / nothing for stdin
 *
 * One JSON row per input line (blank lines are skipped), one JSON prediction per output line, in
 * the same order. Any error goes to stderr with exit status 1 (bad input or model) or 2 (usage).
 * Rows are read and predicted in batches, so large files stream through in bounded memory.
 */
'use strict';

const fs = require('fs');
const readline = require('readline');

const USAGE = `usage: node predict.js MODEL.onnx [ROWS.jsonl|-]

Predict raw rows with a pipeport ONNX model (onnxruntime-node, CPU).

  MODEL.onnx   a file written by \`pipeport export\` (its "pipeport" metadata holds the schema)
  ROWS.jsonl   one JSON object per line, keyed by raw column names; "-" or omitted: stdin

Writes one JSON prediction per line to stdout, in row order:
  classification  {"label": ..., "probabilities": {"<class>": p, ...}}
  regression      {"prediction": x}
  anomaly         {"label": -1 | 1, "score": s}   (-1 outlier, 1 inlier; s = score_samples)
Errors (naming the row and field) go to stderr; the exit status is then non-zero.

Options:
  --batch-size N   rows per InferenceSession.run (default 1024)
  --schema         print the model's "pipeport" metadata as JSON and exit
  -h, --help       show this help

Example (penguins-species; a row carries every raw column, null for a missing value):
  echo '{"island": "Biscoe", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181, "body_mass_g": 3750, "year": 2007, "sex": null}' | node clients/node/predict.js artifacts/penguins-species/pipeline.onnx -
`;

class UsageError extends Error {}

function parseArgs(argv) {
  const args = { model: null, rows: '-', batchSize: 1024, schema: false, help: false };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') args.help = true;
    else if (arg === '--schema') args.schema = true;
    else if (arg === '--batch-size') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) throw new UsageError('--batch-size needs a positive integer');
      args.batchSize = n;
    } else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (args.help) return args;
  if (positional.length < 1 || positional.length > 2) {
    throw new UsageError('expected MODEL.onnx and at most one rows file');
  }
  [args.model, args.rows = '-'] = positional;
  return args;
}

/** Write and wait for the stream to drain, so huge outputs do not pile up in memory. */
function write(stream, text) {
  return new Promise((resolve, reject) => {
    if (stream.write(text)) resolve();
    else stream.once('drain', resolve).once('error', reject);
  });
}

async function predictStream(model, input, batchSize) {
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  let batch = [];
  let firstRow = 0; // index of batch[0] among all rows
  let lineNumber = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    // rowOffset: errors name the row's index in the whole input, not in this batch
    const predictions = await model.predict(batch, { rowOffset: firstRow, batchSize });
    await write(process.stdout, predictions.map((p) => JSON.stringify(p)).join('\n') + '\n');
    firstRow += batch.length;
    batch = [];
  };
  for await (const line of lines) {
    lineNumber++;
    if (line.trim() === '') continue;
    try {
      batch.push(JSON.parse(line));
    } catch (err) {
      throw new Error(`line ${lineNumber} (row ${firstRow + batch.length}): not valid JSON: ${err.message}`);
    }
    if (batch.length >= batchSize) await flush();
  }
  await flush();
}

async function main(argv) {
  let args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`predict.js: error: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const { loadModel } = require('./pipeport.js');
    const model = await loadModel(args.model);
    if (args.schema) {
      await write(process.stdout, JSON.stringify(model.schema, null, 2) + '\n');
      return 0;
    }
    // open first, so a missing rows file is a one-line error rather than a stream event
    const input =
      args.rows === '-' ? process.stdin : (await fs.promises.open(args.rows)).createReadStream();
    await predictStream(model, input, args.batchSize);
    return 0;
  } catch (err) {
    process.stderr.write(`predict.js: error: ${err.message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
