/*
 * Run a pipeport model (pipeline.onnx) in a browser with onnxruntime-web (WebAssembly, CPU).
 *
 * Load, in this order:
 *   <script src=".../onnxruntime-web/dist/ort.wasm.min.js"></script>   (defines window.ort)
 *   <script src=".../common/onnx-metadata.js"></script>
 *   <script src=".../common/raw-rows.js"></script>
 *   <script src=".../web/pipeport-web.js"></script>                    (defines window.pipeport)
 * then:
 *   pipeport.configure({ wasmPaths: '/node_modules/onnxruntime-web/dist/' });
 *   const model = await pipeport.loadModel('models/pipeline.onnx');   // URL, ArrayBuffer or File
 *   const predictions = await model.predict([{ island: 'Biscoe', bill_length_mm: 39.1, ... }]);
 *
 * Rows, predictions and errors are exactly those of the Node.js client (clients/node): both use
 * ../common/raw-rows.js. The page must be served over http(s); onnxruntime-web cannot load its
 * WebAssembly from file://.
 */
(function (root) {
  'use strict';

  const { readMetadataProps } = root.PipeportOnnxMetadata;
  const rawRows = root.PipeportRawRows;

  function ortOrThrow() {
    if (!root.ort || !root.ort.InferenceSession) {
      throw new Error('onnxruntime-web is not loaded: include its dist/ort.wasm.min.js before pipeport-web.js');
    }
    return root.ort;
  }

  /**
   * Where onnxruntime-web finds its .wasm/.mjs files, and how many threads it uses. One thread
   * by default: several need cross-origin isolation (SharedArrayBuffer), which a plain static
   * server does not give, and a row or a batch is far too small to gain from threads.
   * @param {{wasmPaths?: string, numThreads?: number}} options
   */
  function configure(options = {}) {
    const ort = ortOrThrow();
    ort.env.wasm.numThreads = options.numThreads || 1;
    if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
  }

  async function toBytes(source) {
    if (source instanceof Uint8Array) return source;
    if (source instanceof ArrayBuffer) return new Uint8Array(source);
    if (typeof Blob !== 'undefined' && source instanceof Blob) {
      return new Uint8Array(await source.arrayBuffer());
    }
    const url = String(source);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`cannot fetch model ${url}: HTTP ${response.status} ${response.statusText}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  /**
   * Load a pipeport ONNX file: one InferenceSession, created once, plus its metadata.
   * @param {string|URL|ArrayBuffer|Uint8Array|Blob} source a URL to fetch, or the file's bytes
   * @param {object} [sessionOptions] passed to ort.InferenceSession.create
   * @returns {Promise<{schema: object, predict: function(object[]): Promise<object[]>}>}
   */
  async function loadModel(source, sessionOptions = {}) {
    const ort = ortOrThrow();
    const bytes = await toBytes(source);
    const schema = rawRows.parseSchema(readMetadataProps(bytes));
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      ...sessionOptions,
    });
    return rawRows.createModel(session, ort.Tensor, schema);
  }

  root.pipeport = {
    configure,
    loadModel,
    readMetadataProps,
    PipeportInputError: rawRows.PipeportInputError,
    PipeportModelError: rawRows.PipeportModelError,
  };
})(typeof self !== 'undefined' ? self : this);
