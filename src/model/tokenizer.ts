/**
 * Tokenizers: Hugging Face `tokenizer.json` (through `@huggingface/tokenizers`) and llama2.c's
 * `tokenizer.bin`, behind one interface. BOS is prepended by sae-rx when asked (SAELens's
 * `prepend_bos`), never by the tokenizer's post-processor, so it can never appear twice.
 */
import { Tokenizer as HfTokenizerImpl } from '@huggingface/tokenizers';
import { ConfigError, FileFormatError } from '../errors.js';
import { platform } from '../platform/index.js';
import { type Folder, folderJson, folderPath } from '../io/folder.js';
import { byteLevelBpe, byteLevelPieceEncoder, byteLevelPiecesApply } from './byteLevelPieces.js';
import { readJson } from './loadModel.js';
import { firstId } from './ModelConfig.js';

export interface TokenizerEncodeOptions {
  /** Put the BOS token first (exactly once). Default false: the plain encoding of the text. */
  readonly prependBos?: boolean;
}

export interface TextTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  /** Whether the tokenizer's own post-processor would add BOS (sae-rx never lets it). */
  readonly postProcessorAddsBos: boolean;
  encode(text: string, opts?: TokenizerEncodeOptions): number[];
  /** Text of `ids`; special tokens (BOS, EOS, padding) are left out unless asked for. */
  decode(ids: readonly number[], opts?: TokenizerDecodeOptions): string;
  /**
   * One string per token, special tokens included (TransformerLens `to_str_tokens`); a token
   * holding part of a multi-byte character decodes to U+FFFD.
   */
  decodeEach(ids: readonly number[]): string[];
}

export interface TokenizerDecodeOptions {
  /** Leave out BOS, EOS, padding and other special tokens (default true). */
  readonly skipSpecialTokens?: boolean;
}

function withBos(ids: number[], bos: number | undefined, opts: TokenizerEncodeOptions | undefined, who: string): number[] {
  if (!opts?.prependBos) return ids;
  if (bos === undefined) throw new ConfigError(`${who}: prependBos asked, but the tokenizer has no BOS token`);
  return [bos, ...ids];
}

function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

/** A `tokenizer.json` tokenizer. */
export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  readonly postProcessorAddsBos: boolean;
  /** The library's encoding (ids, no special tokens added), through the piece memo where it is exact (byteLevelPieces.ts). */
  private readonly encodeIds: (text: string) => number[];

  constructor(
    private readonly tok: HfTokenizerImpl,
    ids: { bos?: number | undefined; eos?: number | undefined },
    private readonly source = 'tokenizer.json',
    /** Set when the memo applies: the added tokens' texts (split out before the pieces), and the pieces' own BPE where it applies. */
    pieceMemo?: { readonly addedTokens: readonly string[]; readonly bpe?: ((piece: string) => number[] | undefined) | undefined },
  ) {
    const whole = (text: string) => tok.encode(text, { add_special_tokens: false }).ids;
    this.encodeIds = pieceMemo ? byteLevelPieceEncoder(whole, pieceMemo.addedTokens, pieceMemo.bpe) : whole;
    this.vocabSize = tok.get_vocab(true).size;
    this.bosTokenId = ids.bos;
    this.eosTokenId = ids.eos;
    const probe = tok.encode('a', { add_special_tokens: true }).ids;
    this.postProcessorAddsBos = ids.bos !== undefined && probe[0] === ids.bos;
  }

  /**
   * Reads `tokenizer.json` and `tokenizer_config.json` (optional) from `dir`; BOS/EOS come from
   * tokenizer_config's `bos_token`/`eos_token`, else from `config.json`'s ids.
   */
  static fromFolder(dir: string): HfTokenizer {
    const file = platform.path.join(dir, 'tokenizer.json');
    const read = (f: string) => (platform.files.exists(f) ? readJson(f) : undefined);
    const json = read(file);
    if (!json) throw new FileFormatError(`${dir}: no tokenizer.json`);
    const tcfg = read(platform.path.join(dir, 'tokenizer_config.json')) ?? {};
    const mcfg = read(platform.path.join(dir, 'config.json')) ?? {};
    return HfTokenizer.fromJson(json, tcfg, mcfg, file);
  }

  /**
   * From the parsed `tokenizer.json`, `tokenizer_config.json` and `config.json` (the last two
   * may be `{}`); `file` names tokenizer.json in errors.
   */
  static fromJson(
    json: Record<string, unknown>,
    tcfg: Record<string, unknown>,
    mcfg: Record<string, unknown>,
    file = 'tokenizer.json',
  ): HfTokenizer {
    let tok: HfTokenizerImpl;
    try {
      tok = new HfTokenizerImpl(json, tcfg);
    } catch (e) {
      throw new FileFormatError(`${file}: cannot build the tokenizer (${(e as Error).message})`, { cause: e });
    }
    const idOf = (key: string): number | undefined => {
      const s = tokenString(tcfg[`${key}_token`]);
      const fromTok = s === undefined ? undefined : tok.token_to_id(s);
      if (fromTok !== undefined) return fromTok;
      return firstId(mcfg[`${key}_token_id`]);
    };
    const added = Array.isArray(json['added_tokens']) ? (json['added_tokens'] as Array<{ content?: unknown }>).map((a) => a.content).filter((c): c is string => typeof c === 'string' && c !== '') : [];
    return new HfTokenizer(tok, { bos: idOf('bos'), eos: idOf('eos') }, file, byteLevelPiecesApply(json, tcfg) ? { addedTokens: added, bpe: byteLevelBpe(json['model'] as Record<string, unknown>) } : undefined);
  }

  encode(text: string, opts?: TokenizerEncodeOptions): number[] {
    return withBos(this.encodeIds(text), this.bosTokenId, opts, this.source);
  }

  decode(ids: readonly number[], opts?: TokenizerDecodeOptions): string {
    return this.tok.decode([...ids], { skip_special_tokens: opts?.skipSpecialTokens ?? true });
  }

  decodeEach(ids: readonly number[]): string[] {
    return ids.map((id) => this.decode([id], { skipSpecialTokens: false }));
  }
}

/**
 * llama2.c's `tokenizer.bin`: int32 max_token_length, then per id a float32 score, an int32
 * byte length and the piece's UTF-8 bytes. Encoding and decoding follow llama2.c's `run.c`:
 * a dummy-prefix " " token, one token per code point (byte fallback `<0xHH>` = byte + 3 for
 * unknown ones), then repeatedly the best-scoring adjacent merge. BOS is id 1, EOS id 2.
 */
export class Llama2cTokenizer implements TextTokenizer {
  readonly bosTokenId = 1;
  readonly eosTokenId = 2;
  readonly postProcessorAddsBos = false;
  readonly vocabSize: number;
  private readonly pieces: string[];
  private readonly pieceBytes: Uint8Array[];
  private readonly scores: Float32Array;
  private readonly lookup = new Map<string, number>();

  constructor(bytes: Uint8Array, vocabSize: number, private readonly source = 'tokenizer.bin') {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const utf8 = new TextDecoder('utf-8');
    this.vocabSize = vocabSize;
    this.pieces = [];
    this.pieceBytes = [];
    this.scores = new Float32Array(vocabSize);
    let off = 4;
    for (let i = 0; i < vocabSize; i++) {
      if (off + 8 > bytes.byteLength) {
        throw new FileFormatError(`${source}: truncated at token ${i} of ${vocabSize} (offset ${off} of ${bytes.byteLength})`);
      }
      this.scores[i] = dv.getFloat32(off, true);
      const n = dv.getInt32(off + 4, true);
      off += 8;
      if (n < 0 || off + n > bytes.byteLength) throw new FileFormatError(`${source}: token ${i} has a bad length ${n}`);
      const b = bytes.slice(off, off + n);
      off += n;
      const s = utf8.decode(b);
      this.pieceBytes.push(b);
      this.pieces.push(s);
      // run.c looks pieces up by string; the first id wins for duplicates.
      if (!this.lookup.has(s)) this.lookup.set(s, i);
    }
  }

  /** Reads `tokenizer.bin`; `vocabSize` is the model's (config.json `vocab_size`). */
  static fromFile(file: string, vocabSize: number): Llama2cTokenizer {
    let bytes: Uint8Array;
    try {
      bytes = platform.files.readBytes(file);
    } catch (e) {
      throw new FileFormatError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
    }
    return new Llama2cTokenizer(bytes, vocabSize, file);
  }

  encode(text: string, opts?: TokenizerEncodeOptions): number[] {
    const ids: number[] = [];
    if (text.length > 0) {
      const space = this.lookup.get(' ');
      if (space !== undefined) ids.push(space);
    }
    const enc = new TextEncoder();
    for (const cp of text) {
      const id = this.lookup.get(cp);
      if (id !== undefined) ids.push(id);
      else for (const b of enc.encode(cp)) ids.push(b + 3);
    }
    // Merge the best-scoring adjacent pair until none is in the vocabulary.
    for (;;) {
      let best = -Infinity;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i + 1 < ids.length; i++) {
        const id = this.lookup.get(this.pieces[ids[i]!]! + this.pieces[ids[i + 1]!]!);
        if (id !== undefined && this.scores[id]! > best) {
          best = this.scores[id]!;
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx < 0) break;
      ids.splice(bestIdx, 2, bestId);
    }
    return withBos(ids, this.bosTokenId, opts, this.source);
  }

  decode(ids: readonly number[], opts?: TokenizerDecodeOptions): string {
    const skip = opts?.skipSpecialTokens ?? true;
    const out: number[] = [];
    let prev = -1;
    for (const id of ids) {
      if (id < 0 || id >= this.vocabSize) throw new ConfigError(`${this.source}: token id ${id} is out of range [0, ${this.vocabSize})`);
      if (skip && (id === this.bosTokenId || id === this.eosTokenId || id === 0)) {
        prev = id;
        continue;
      }
      let b = this.pieceBytes[id]!;
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(this.pieces[id]!);
      if (m) b = new Uint8Array([parseInt(m[1]!, 16)]);
      else if (prev === this.bosTokenId && b[0] === 0x20) b = b.subarray(1);
      for (const x of b) out.push(x);
      prev = id;
    }
    return new TextDecoder('utf-8').decode(new Uint8Array(out));
  }

  decodeEach(ids: readonly number[]): string[] {
    return ids.map((id) => this.decode([id], { skipSpecialTokens: false }));
  }
}

/**
 * The tokenizer of a model folder: `tokenizer.json` if present, else llama2.c's
 * `tokenizer.bin` (vocab size from `config.json`).
 */
export function loadTokenizer(dir: string): TextTokenizer {
  if (platform.files.exists(platform.path.join(dir, 'tokenizer.json'))) return HfTokenizer.fromFolder(dir);
  const bin = platform.path.join(dir, 'tokenizer.bin');
  if (platform.files.exists(bin)) {
    let vocab = 32000;
    const cfgFile = platform.path.join(dir, 'config.json');
    if (platform.files.exists(cfgFile)) {
      const v = readJson(cfgFile)['vocab_size'];
      if (typeof v === 'number') vocab = v;
    }
    return Llama2cTokenizer.fromFile(bin, vocab);
  }
  throw new FileFormatError(`${dir}: no tokenizer.json or tokenizer.bin`);
}

/** loadTokenizer over a Folder (a URL, the Hub, dropped files — what a page has). */
export async function loadTokenizerFrom(folder: Folder): Promise<TextTokenizer> {
  const optional = async (name: string): Promise<Record<string, unknown>> => ((await folder.has(name)) ? folderJson(folder, name) : {});
  if (await folder.has('tokenizer.json')) {
    const [json, tcfg, mcfg] = [await folderJson(folder, 'tokenizer.json'), await optional('tokenizer_config.json'), await optional('config.json')];
    return HfTokenizer.fromJson(json, tcfg, mcfg, folderPath(folder, 'tokenizer.json'));
  }
  if (await folder.has('tokenizer.bin')) {
    const v = (await optional('config.json'))['vocab_size'];
    return new Llama2cTokenizer(await folder.bytes('tokenizer.bin'), typeof v === 'number' ? v : 32000, folderPath(folder, 'tokenizer.bin'));
  }
  throw new FileFormatError(`${folder.label}: no tokenizer.json or tokenizer.bin`);
}
