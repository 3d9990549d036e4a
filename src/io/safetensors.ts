/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * u64 header length N, N bytes of JSON (`{name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {str: str}}`, padded with spaces), then the tensor bytes, little-endian,
 * offsets relative to the start of the data section.
 *
 * One file each (src/io/safetensors/): `dtypes` (element types, byte order, conversions),
 * `header` (length prefix, JSON, validation), `memoryReader`, `fileReader`, `writer` (bytes),
 * `fileWriter` (atomic file on disk).
 *
 * - `SafetensorsFile` opens a file, parses and validates only the header, and reads each tensor
 *   on demand with positioned reads: a multi-GB file is never read whole.
 * - `decodeSafetensors` / `encodeSafetensors` do the same for bytes in memory.
 * - `writeSafetensors` writes a file atomically (temp file + fsync + rename), tensor by tensor.
 *
 * Validation follows the reference implementation: the header must be a JSON object, every
 * entry's byte length must equal prod(shape) × element size, the entries must tile the data
 * section exactly (no overlap, no gap, nothing past the end, nothing left over). Every error
 * is a FileFormatError naming the file (or "<bytes>") and the tensor.
 */
export {
  type SafetensorsDtype, type SafetensorsInfo, type SafetensorsTypedArray, type RawTensor, type TensorInput,
  dtypeSize, isSafetensorsDtype, f16BitsToNumber, numberToF16Bits, numberToBf16Bits,
} from './safetensors/dtypes.js';
export { MAX_HEADER_BYTES } from './safetensors/header.js';
export { DecodedSafetensors, decodeSafetensors } from './safetensors/memoryReader.js';
export { SafetensorsFile, loadSafetensors } from './safetensors/fileReader.js';
export { encodeSafetensors } from './safetensors/writer.js';
export { writeSafetensors } from './safetensors/fileWriter.js';
