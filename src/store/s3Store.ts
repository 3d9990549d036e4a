/**
 * A store in an S3 bucket under a prefix (`s3://bucket/prefix`), through `@aws-sdk/client-s3`.
 * Region, credentials and endpoint come from where every AWS tool reads them (the SDK's default
 * chain: AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN, AWS_PROFILE and ~/.aws/config|credentials, instance roles);
 * `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` names an S3-compatible server (MinIO, Ceph,
 * R2, s3rver), which is then addressed path-style (`SAE_RX_S3_PATH_STYLE=0` turns that off).
 *
 * An object appears whole when its PUT (or multipart upload, above `partSize`) completes: S3
 * never shows half an object. Every request is retried on transient errors (5xx, throttling,
 * dropped connections) for `retry.windowMs` (store/retry.ts); the SDK's own retries are off so
 * the window is ours.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectsCommand,
  GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { type Store, StoreError, StoreNotFoundError, checkKey } from './Store.js';
import { type RetryOptions, withRetry } from './retry.js';

export interface S3StoreOptions {
  /** Endpoint of an S3-compatible server (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS). */
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style addressing (default: on when an endpoint is given). */
  readonly forcePathStyle?: boolean;
  /** Explicit credentials (default: the SDK's chain). */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  readonly retry?: RetryOptions;
  /** Objects larger than this go up as a multipart upload in parts of this size (default 64 MiB). */
  readonly partSize?: number;
  /** Environment to read (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** A request with no byte moving for this long fails as transient and is retried (ms; default SAE_RX_STORE_REQUEST_TIMEOUT_MS or 60 000). */
  readonly requestTimeoutMs?: number;
}

function envMs(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new StoreError(`${name} must be a positive number of milliseconds, got ${JSON.stringify(v)}`);
  return n;
}

/** `s3://bucket/prefix` → bucket and prefix (no leading/trailing slash). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m || !m[1]) throw new StoreError(`store: ${JSON.stringify(url)} is not an s3://bucket[/prefix] URL`);
  return { bucket: m[1], prefix: m[2]!.replace(/\/+$/, '') };
}

const isNotFound = (e: unknown) => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.$metadata?.httpStatusCode === 404;
};

export class S3Store implements Store {
  readonly url: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly retry: RetryOptions;
  private readonly partSize: number;

  constructor(url: string, o: S3StoreOptions = {}) {
    const { bucket, prefix } = parseS3Url(url);
    this.bucket = bucket;
    this.prefix = prefix;
    this.url = `s3://${bucket}${prefix ? '/' + prefix : ''}`;
    const env = o.env ?? process.env;
    const endpoint = o.endpoint ?? env['AWS_ENDPOINT_URL_S3'] ?? env['AWS_ENDPOINT_URL'];
    const region = o.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? (endpoint ? 'us-east-1' : undefined);
    const pathStyleEnv = env['SAE_RX_S3_PATH_STYLE'];
    const forcePathStyle = o.forcePathStyle ?? (pathStyleEnv !== undefined ? pathStyleEnv !== '0' && pathStyleEnv !== 'false' : endpoint !== undefined);
    // the standard variables, read here too when a caller hands its own environment
    const keyId = env['AWS_ACCESS_KEY_ID'];
    const secret = env['AWS_SECRET_ACCESS_KEY'];
    const credentials =
      o.credentials ??
      (o.env && keyId && secret ? { accessKeyId: keyId, secretAccessKey: secret, ...(env['AWS_SESSION_TOKEN'] ? { sessionToken: env['AWS_SESSION_TOKEN'] } : {}) } : undefined);
    this.client = new S3Client({
      ...(endpoint ? { endpoint } : {}),
      ...(region ? { region } : {}),
      forcePathStyle,
      ...(credentials ? { credentials } : {}),
      maxAttempts: 1, // our retry window (store/retry.ts) replaces the SDK's three quick attempts
      // Without these a request whose answer never comes (a peer gone without a RST, a proxy
      // that holds it) waits forever, and so does the job or coordinator behind it. The
      // request timeout is an idle timeout (no byte for that long), not a cap on big transfers.
      // (this SDK only warns on a request timeout unless told to throw)
      requestHandler: { connectionTimeout: 10_000, requestTimeout: o.requestTimeoutMs ?? envMs(env, 'SAE_RX_STORE_REQUEST_TIMEOUT_MS', 60_000), throwOnRequestTimeout: true },
    });
    this.retry = o.retry ?? {};
    this.partSize = o.partSize ?? 64 * 1024 * 1024;
  }

  private key(k: string): string {
    return this.prefix ? `${this.prefix}/${checkKey(k)}` : checkKey(k);
  }

  private where(k: string): string {
    return `${this.url}/${k}`;
  }

  private async send<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetry(what, fn, this.retry);
  }

  async put(key: string, data: Uint8Array | string): Promise<void> {
    const body = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const Key = this.key(key);
    try {
      if (body.byteLength <= this.partSize) {
        await this.send(`put ${this.where(key)}`, () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body })));
        return;
      }
      await this.multipart(key, Key, body);
    } catch (e) {
      throw new StoreError(`${this.where(key)}: cannot write (${(e as Error).message})`, { cause: e });
    }
  }

  /** A large object in parts; it appears only when CompleteMultipartUpload succeeds. */
  private async multipart(key: string, Key: string, body: Uint8Array): Promise<void> {
    const { UploadId } = await this.send(`start upload ${this.where(key)}`, () =>
      this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key })),
    );
    try {
      const parts: { ETag: string; PartNumber: number }[] = [];
      for (let off = 0, n = 1; off < body.byteLength; off += this.partSize, n++) {
        const chunk = body.subarray(off, Math.min(body.byteLength, off + this.partSize));
        const r = await this.send(`upload part ${n} of ${this.where(key)}`, () =>
          this.client.send(new UploadPartCommand({ Bucket: this.bucket, Key, UploadId, PartNumber: n, Body: chunk })),
        );
        parts.push({ ETag: r.ETag!, PartNumber: n });
      }
      await this.send(`complete upload ${this.where(key)}`, () =>
        this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts } })),
      );
    } catch (e) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })).catch(() => {});
      throw e;
    }
  }

  private async read(key: string, range?: string): Promise<Uint8Array> {
    try {
      return await this.send(`get ${this.where(key)}`, async () => {
        const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key), ...(range ? { Range: range } : {}) }));
        // reading the body is part of the attempt: a connection dropped mid-body is retried
        return await r.Body!.transformToByteArray();
      });
    } catch (e) {
      if (isNotFound(e)) throw new StoreNotFoundError(`${this.where(key)}: not in the store`, { cause: e });
      throw new StoreError(`${this.where(key)}: cannot read (${(e as Error).message})`, { cause: e });
    }
  }

  get(key: string): Promise<Uint8Array> {
    return this.read(key);
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    if (end <= start) return new Uint8Array(0);
    const out = await this.read(key, `bytes=${start}-${end - 1}`);
    if (out.byteLength !== end - start) throw new StoreError(`${this.where(key)}: asked for bytes [${start}, ${end}), got ${out.byteLength}`);
    return out;
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const r = await this.send(`head ${this.where(key)}`, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) })));
      return r.ContentLength;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw new StoreError(`${this.where(key)}: cannot stat (${(e as Error).message})`, { cause: e });
    }
  }

  async list(prefix: string): Promise<string[]> {
    const full = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    const out: string[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await this.send(`list ${this.where(prefix)}`, () =>
          this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ...(token ? { ContinuationToken: token } : {}) })),
        );
        for (const o of r.Contents ?? []) if (o.Key) out.push(this.prefix ? o.Key.slice(this.prefix.length + 1) : o.Key);
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      throw new StoreError(`${this.where(prefix)}: cannot list (${(e as Error).message})`, { cause: e });
    }
    return out.sort();
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const Objects = keys.slice(i, i + 1000).map((k) => ({ Key: this.key(k) }));
      await this.send(`delete in ${this.url}`, () => this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects, Quiet: true } })));
    }
  }

  async move(from: string, to: string): Promise<void> {
    try {
      await this.send(`copy ${this.where(from)}`, () =>
        this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: this.key(to), CopySource: `${this.bucket}/${encodeURI(this.key(from))}` })),
      );
    } catch (e) {
      if (isNotFound(e)) throw new StoreNotFoundError(`${this.where(from)}: not in the store (moving to ${to})`, { cause: e });
      throw new StoreError(`${this.where(from)}: cannot copy to ${to} (${(e as Error).message})`, { cause: e });
    }
    await this.delete([from]);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
