/*
 * Read an ONNX file's metadata_props without a protobuf library.
 *
 * Why: neither onnxruntime-node nor onnxruntime-web exposes a model's custom metadata, and the
 * pipeport contract (docs/onnx-contract.md) puts the whole raw-input schema there, under the key
 * "pipeport". The ONNX file is a protobuf ModelProto; its metadata_props is field 14, a repeated
 * StringStringEntryProto {1: key, 2: value}. Reading it needs only a varint decoder and the
 * ability to skip the fields we do not want (the graph, field 7, is most of the file).
 *
 * UMD: `require('../common/onnx-metadata.js')` in Node.js, or a <script> tag in a browser, which
 * defines `window.PipeportOnnxMetadata`. No dependencies.
 */
(function (root, factory) {
  if (typeof module === 'object' && module.exports) {
    module.exports = factory();
  } else {
    root.PipeportOnnxMetadata = factory();
  }
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  const MODEL_METADATA_PROPS = 14; // ModelProto.metadata_props
  const ENTRY_KEY = 1; // StringStringEntryProto.key
  const ENTRY_VALUE = 2; // StringStringEntryProto.value

  const WIRE_VARINT = 0;
  const WIRE_FIXED64 = 1;
  const WIRE_LENGTH_DELIMITED = 2;
  const WIRE_FIXED32 = 5;

  /** Raised when the bytes are not a readable ONNX ModelProto. */
  class OnnxFormatError extends Error {
    constructor(message) {
      super(message);
      this.name = 'OnnxFormatError';
    }
  }

  /**
   * Decode a base-128 varint at `pos`. Uses arithmetic, not 32-bit shifts, so lengths and values
   * up to 2^53 (files larger than 2 GiB, 64-bit ir_version) stay exact.
   */
  function readVarint(bytes, pos) {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= bytes.length) throw new OnnxFormatError('truncated varint');
      const byte = bytes[pos++];
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return [value, pos];
      scale *= 128;
    }
    throw new OnnxFormatError('varint longer than 10 bytes');
  }

  /**
   * Iterate over the top-level fields of one protobuf message in bytes[start:end], calling
   * visit(fieldNumber, wireType, valueStart, valueEnd) for length-delimited fields and skipping
   * every other field.
   */
  function forEachLengthDelimitedField(bytes, start, end, visit) {
    let pos = start;
    while (pos < end) {
      let tag;
      [tag, pos] = readVarint(bytes, pos);
      const fieldNumber = Math.floor(tag / 8);
      const wireType = tag % 8;
      if (fieldNumber === 0) throw new OnnxFormatError(`invalid field number 0 at byte ${pos}`);
      if (wireType === WIRE_VARINT) {
        [, pos] = readVarint(bytes, pos);
      } else if (wireType === WIRE_FIXED64) {
        pos += 8;
      } else if (wireType === WIRE_FIXED32) {
        pos += 4;
      } else if (wireType === WIRE_LENGTH_DELIMITED) {
        let length;
        [length, pos] = readVarint(bytes, pos);
        if (pos + length > end) {
          throw new OnnxFormatError(`field ${fieldNumber} runs past the end of its message`);
        }
        visit(fieldNumber, pos, pos + length);
        pos += length;
      } else {
        throw new OnnxFormatError(`unsupported protobuf wire type ${wireType} (field ${fieldNumber})`);
      }
      if (pos > end) throw new OnnxFormatError('truncated message');
    }
  }

  const utf8 = new TextDecoder('utf-8', { fatal: true });

  /**
   * All metadata_props of an ONNX model as a plain object {key: value}.
   * @param {Uint8Array|ArrayBuffer} data the bytes of a .onnx file
   * @returns {Object<string, string>}
   */
  function readMetadataProps(data) {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    const props = {};
    forEachLengthDelimitedField(bytes, 0, bytes.length, (field, start, end) => {
      if (field !== MODEL_METADATA_PROPS) return;
      let key = '';
      let value = '';
      forEachLengthDelimitedField(bytes, start, end, (entryField, s, e) => {
        if (entryField === ENTRY_KEY) key = utf8.decode(bytes.subarray(s, e));
        else if (entryField === ENTRY_VALUE) value = utf8.decode(bytes.subarray(s, e));
      });
      props[key] = value; // protobuf map semantics: the last entry for a key wins
    });
    return props;
  }

  return { readMetadataProps, OnnxFormatError };
});
