/**
 * Documents → fixed-length token sequences, as SAELens v1.5's `ActivationsStore` builds them
 * (`_get_next_dataset_tokens` + `get_batch_tokens`).
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { ConfigError, StageError } from '../errors.js';
import type { TextTokenizer } from '../model/tokenizer.js';
import type { Document } from '../stream/Document.js';
import type { TokenBatch } from '../stream/TokenBatch.js';
import { subscribeUpstream } from '../stream/subscribeUpstream.js';

export interface PackContextOptions {
  /** Tokens per sequence (SAELens `context_size`). */
  readonly contextSize: number;
  /** SAELens `prepend_bos`. */
  readonly prependBos: boolean;
  /** BOS token id (default: the tokenizer's); required when `prependBos`. */
  readonly bosToken?: number;
  /** Tokenizes text documents (required when any document is text). */
  readonly tokenizer?: TextTokenizer;
  /**
   * Sequences per emitted batch (SAELens `store_batch_size`). When given, packing follows
   * SAELens exactly, including what it drops: each batch starts at a fresh document, and the
   * rest of the document that filled the previous batch is dropped. Without it, one sequence
   * per batch and nothing is dropped (documents continue across batches).
   */
  readonly storeBatchSize?: number;
  /**
   * Text documents are cut to this many tokens (BOS included) after tokenizing, as
   * TransformerLens's `to_tokens(truncate=True)` cuts them to the model's `n_ctx`, which
   * SAELens uses. Default: no cut. Tokenized documents are never cut.
   */
  readonly maxDocumentTokens?: number;
  /** Called after each document is read (SAELens's `n_dataset_processed`), with that document. */
  readonly onDocument?: (documentsRead: number, doc: Document) => void;
}

/**
 * The token ids of one document, as SAELens's `_get_next_dataset_tokens` gives them: text is
 * tokenized with BOS first when `prependBos` (and cut to `maxDocumentTokens`); a tokenized
 * document is taken as is, except that a leading BOS is removed when `prependBos` is off.
 */
export function documentTokens(doc: Document, opts: PackContextOptions): Int32Array {
  if ('text' in doc) {
    const tok = opts.tokenizer;
    if (!tok) throw new ConfigError('packContext: a text document arrived but no tokenizer was given (option tokenizer)');
    let ids = tok.encode(doc.text);
    if (opts.prependBos) ids = [bosOf(opts), ...ids];
    const max = opts.maxDocumentTokens;
    return Int32Array.from(max !== undefined && ids.length > max ? ids.slice(0, max) : ids);
  }
  const t = doc.tokens;
  const bos = opts.bosToken ?? opts.tokenizer?.bosTokenId;
  if (!opts.prependBos && bos !== undefined && t.length > 0 && t[0] === bos) return t.subarray(1);
  return t;
}

function bosOf(opts: PackContextOptions): number {
  const bos = opts.bosToken ?? opts.tokenizer?.bosTokenId;
  if (bos === undefined) throw new ConfigError('packContext: prependBos is on but no bosToken was given and the tokenizer has none');
  return bos;
}

/**
 * The packing state of SAELens's `get_batch_tokens`: rows being filled and the position in
 * the current row. `add` takes one document; it returns full batches when they are complete.
 */
export class ContextPacker {
  private readonly ctx: number;
  private readonly rowsPerBatch: number;
  private readonly dropLeftover: boolean;
  private readonly bos: number | undefined;
  private buf: Int32Array;
  private rows = 0;
  /** Tokens in the current row; it may equal ctx (a row filled exactly, not yet closed). */
  private cur = 0;

  constructor(private readonly opts: PackContextOptions) {
    const { contextSize, storeBatchSize } = opts;
    if (!Number.isInteger(contextSize) || contextSize < 1) throw new ConfigError(`packContext: contextSize must be a positive integer, got ${contextSize}`);
    if (storeBatchSize !== undefined && (!Number.isInteger(storeBatchSize) || storeBatchSize < 1))
      throw new ConfigError(`packContext: storeBatchSize must be a positive integer, got ${storeBatchSize}`);
    if (opts.maxDocumentTokens !== undefined && (!Number.isInteger(opts.maxDocumentTokens) || opts.maxDocumentTokens < 1))
      throw new ConfigError(`packContext: maxDocumentTokens must be a positive integer, got ${opts.maxDocumentTokens}`);
    this.ctx = contextSize;
    this.rowsPerBatch = storeBatchSize ?? 1;
    this.dropLeftover = storeBatchSize !== undefined;
    this.bos = opts.prependBos ? bosOf(opts) : undefined;
    this.buf = new Int32Array(this.rowsPerBatch * this.ctx);
  }

  /** Packs one document; returns the batches it completed (at most one with storeBatchSize). */
  add(doc: Document): TokenBatch[] {
    const out: TokenBatch[] = [];
    const t = documentTokens(doc, this.opts);
    let off = 0;
    // SAELens prepends BOS to the rest of a document that spills into the next row, unless
    // that rest already starts with BOS; `bosFirst` is that virtual first token.
    let bosFirst = false;
    let len = t.length;
    const ctx = this.ctx;
    const put = (k: number) => {
      let at = this.rows * ctx + this.cur;
      if (k > 0 && bosFirst) {
        this.buf[at++] = this.bos!;
        bosFirst = false;
        k--;
      }
      this.buf.set(t.subarray(off, off + k), at);
      off += k;
      this.cur = at + k - this.rows * ctx;
    };
    while (len > 0 && this.rows < this.rowsPerBatch) {
      const space = ctx - this.cur;
      if (len <= space) {
        put(len);
        len = 0;
        break;
      }
      put(space);
      len -= space;
      if (this.bos !== undefined && !(bosFirst || t[off] === this.bos)) {
        bosFirst = true;
        len += 1;
      }
      // the row is full: close it
      this.rows++;
      this.cur = 0;
      if (this.rows === this.rowsPerBatch) {
        out.push(this.take(this.rows));
        // SAELens: the next batch starts at the next document; the rest of this one is dropped
        if (this.dropLeftover) return out;
      }
    }
    return out;
  }

  /** At the end of the stream: the complete rows not yet emitted (a smaller batch), or none. */
  flush(): TokenBatch | undefined {
    if (this.cur === this.ctx) {
      this.rows++;
      this.cur = 0;
    }
    return this.rows > 0 ? this.take(this.rows) : undefined;
  }

  private take(n: number): TokenBatch {
    const tokens = n * this.ctx === this.buf.length ? this.buf : this.buf.slice(0, n * this.ctx);
    this.buf = new Int32Array(this.rowsPerBatch * this.ctx);
    this.rows = 0;
    this.cur = 0;
    return { tokens, n, contextSize: this.ctx };
  }
}

/**
 * Concatenates documents (tokenizing text ones) and cuts them into `contextSize`-token
 * sequences with SAELens v1.5's rules, emitting `TokenBatch`es of `storeBatchSize` sequences:
 *
 * - a text document is tokenized with BOS first when `prependBos` (SAELens's `to_tokens`);
 *   a tokenized document is used as is (a leading BOS is removed when `prependBos` is off);
 * - documents follow each other in a row without separator; when a document runs past the end
 *   of a row, its rest continues in the next row, with BOS put first when `prependBos` (unless
 *   the rest already starts with BOS);
 * - a batch starts at a new document: the rest of the document that completed the previous
 *   batch is dropped, as `get_batch_tokens` drops it.
 *
 * At the end of the stream the complete rows left are emitted as a smaller batch; a partial
 * row is dropped. Synchronous (each document is packed inside `next`), no tensors: a pull
 * source stays paced by the consumer.
 */
export function packContext(opts: PackContextOptions): OperatorFunction<Document, TokenBatch> {
  // Check the options now, not at subscription.
  new ContextPacker(opts);
  return (source) =>
    new Observable<TokenBatch>((subscriber) => {
      const packer = new ContextPacker(opts);
      let docs = 0;
      const fail = (e: unknown) => subscriber.error(e instanceof ConfigError ? e : new StageError('packContext', e));
      // subscribeUpstream: an unsubscribe during a synchronous source's emission reaches the
      // source at once.
      subscribeUpstream(subscriber, source, {
        next: (doc: Document) => {
          let batches: TokenBatch[];
          try {
            batches = packer.add(doc);
            opts.onDocument?.(++docs, doc);
          } catch (e) {
            fail(e);
            return;
          }
          for (const b of batches) {
            if (subscriber.closed) return;
            subscriber.next(b);
          }
        },
        complete: () => {
          const last = packer.flush();
          if (last && !subscriber.closed) subscriber.next(last);
          subscriber.complete();
        },
      });
    });
}
