import { FileFormatError } from '../../errors.js';

/** Every malformed-file error: a FileFormatError naming the file (or "<bytes>"). */
export function fail(source: string, msg: string): never {
  throw new FileFormatError(`safetensors ${source}: ${msg}`);
}
