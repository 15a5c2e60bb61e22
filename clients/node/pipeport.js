/*
 * Embed a pipeport model (pipeline.onnx) in a Node.js program.
 *
 *   const pipeport = require('./pipeport');
 *   const model = await pipeport.loadModel('artifacts/penguins-species/pipeline.onnx');
 *   const [p] = await model.predict([{ island: 'Biscoe', bill_length_mm: 39.1, ... }]);
 *   // p = { label: 'Adelie', probabilities: { Adelie: 0.97, Chinstrap: 0.02, Gentoo: 0.01 } }
 *   // regression models give { prediction: 12.5 }
 *   // anomaly models (IsolationForest) give { label: -1, score: -0.61 } (-1 outlier, 1 inlier)
 *
 * Rows are keyed by the raw column names of the training data; everything the model needs to
 * know about them (ONNX input names, kinds, classes) is read from the file's "pipeport" metadata,
 * so the .onnx file is the only thing you deploy. Contract: docs/onnx-contract.md.
 *
 * To copy into another project, take this file and ../common/ (two dependency-free files) and
 * install onnxruntime-node 1.30.0 (`ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0`
 * where its postinstall cannot download; the CPU runtime is inside the npm package).
 */
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');
const { readMetadataProps } = require('../common/onnx-metadata.js');
const rawRows = require('../common/raw-rows.js');

/**
 * Load a pipeport ONNX file: one InferenceSession, created once, plus its metadata.
 * @param {string} path the .onnx file
 * @param {object} [sessionOptions] passed to ort.InferenceSession.create (e.g. intraOpNumThreads)
 * @returns {Promise<{schema: object, predict: function(object[]): Promise<object[]>}>}
 */
async function loadModel(path, sessionOptions = {}) {
  const bytes = await fs.promises.readFile(path);
  const schema = rawRows.parseSchema(readMetadataProps(bytes));
  const session = await ort.InferenceSession.create(bytes, sessionOptions);
  return rawRows.createModel(session, ort.Tensor, schema);
}

module.exports = {
  loadModel,
  readMetadataProps,
  PipeportInputError: rawRows.PipeportInputError,
  PipeportModelError: rawRows.PipeportModelError,
};
