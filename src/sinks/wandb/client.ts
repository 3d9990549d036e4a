/**
 * The two W&B endpoints a training run needs, spoken directly (there is no maintained W&B SDK
 * for Node). Facts from wandb/wandb (core/api/graphql/mutation_run.graphql, the Go filestream):
 * - `POST {base}/graphql`, basic auth `api:{key}`: the `UpsertBucket` mutation creates or updates
 *   the run; `name` is the run id, `displayName` the run name, `modelName` the project, `config`
 *   a JSON string of `{key: {value, desc}}`; the answer gives the entity and historyLineCount.
 * - `POST {base}/files/{entity}/{project}/{run_id}/file_stream`: `{files: {"wandb-history.jsonl":
 *   {offset, content: [lines]}, "wandb-summary.json": {offset: 0, content: [json]}}}`; `{}` is a
 *   heartbeat; `{complete: true, exitcode}` ends the run. Offsets make resends idempotent.
 */
import { redactString } from '../../config/secrets.js';

export const HISTORY_FILE = 'wandb-history.jsonl';
export const SUMMARY_FILE = 'wandb-summary.json';

export const UPSERT_BUCKET_MUTATION = `mutation UpsertBucket(
  $id: String, $name: String, $project: String, $entity: String, $groupName: String,
  $description: String, $displayName: String, $notes: String, $commit: String,
  $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String,
  $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString
) {
  upsertBucket(input: {
    id: $id, name: $name, groupName: $groupName, modelName: $project, entityName: $entity,
    description: $description, displayName: $displayName, notes: $notes, config: $config,
    commit: $commit, host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo,
    jobType: $jobType, state: $state, sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics
  }) {
    bucket { id name displayName description config sweepName
      project { id name entity { id name } }
      historyLineCount }
    inserted
  }
}`;

/** A failed request; `retryable` for network errors, 408, 429 and 5xx (as the wandb SDK retries). */
export class WandbRequestError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'WandbRequestError';
  }
}

export interface FileStreamBody {
  files?: Record<string, { offset: number; content: string[] }>;
  complete?: boolean;
  exitcode?: number;
}

export interface UpsertRunInput {
  readonly runId: string;
  readonly project: string;
  readonly entity?: string;
  readonly displayName?: string;
  /** Flat config; sent as `{key: {value, desc: null}}`. */
  readonly config?: Record<string, unknown>;
}

export interface UpsertRunResult {
  readonly entity: string;
  readonly project: string;
  readonly runId: string;
  /** Lines already in the run's history (a resumed run continues after them). */
  readonly historyLineCount: number;
}

export class WandbClient {
  private readonly auth: string;

  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly fetchFn: typeof fetch = globalThis.fetch,
    private readonly timeoutMs = 30_000,
  ) {
    this.auth = `Basic ${Buffer.from(`api:${apiKey}`).toString('base64')}`;
  }

  /** Masks the key (raw and base64) in any text that may reach a log. */
  scrub(text: string): string {
    return redactString(text, [this.apiKey, this.auth.slice('Basic '.length)]);
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const url = `${this.baseUrl}/${path}`;
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method: 'POST',
        headers: { Authorization: this.auth, 'Content-Type': 'application/json', 'User-Agent': 'sae-rx' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new WandbRequestError(this.scrub(`POST ${url} failed: ${why}`), true);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
      throw new WandbRequestError(this.scrub(`POST ${url}: HTTP ${res.status} ${text.slice(0, 200)}`.trim()), retryable, res.status);
    }
    try {
      return text ? JSON.parse(text) : {};
    } catch {
      throw new WandbRequestError(this.scrub(`POST ${url}: answer is not JSON: ${text.slice(0, 200)}`), true, res.status);
    }
  }

  /** Creates or updates the run (GraphQL UpsertBucket). */
  async upsertRun(input: UpsertRunInput): Promise<UpsertRunResult> {
    const config = input.config
      ? JSON.stringify(Object.fromEntries(Object.entries(input.config).map(([k, value]) => [k, { value, desc: null }])))
      : null;
    const answer = (await this.post('graphql', {
      query: UPSERT_BUCKET_MUTATION,
      variables: {
        id: null,
        name: input.runId,
        project: input.project,
        entity: input.entity ?? null,
        displayName: input.displayName ?? null,
        config,
      },
    })) as { data?: { upsertBucket?: { bucket?: Record<string, unknown> } }; errors?: Array<{ message?: string }> };
    if (answer.errors && answer.errors.length > 0) {
      throw new WandbRequestError(
        this.scrub(`W&B upsertBucket: ${answer.errors.map((e) => e.message ?? JSON.stringify(e)).join('; ')}`),
        false,
      );
    }
    const bucket = answer.data?.upsertBucket?.bucket;
    const project = bucket?.project as { name?: string; entity?: { name?: string } } | undefined;
    const entity = project?.entity?.name ?? input.entity;
    if (!bucket || !entity) {
      throw new WandbRequestError('W&B upsertBucket: the answer names no run/entity (pass the entity option)', false);
    }
    return {
      entity,
      project: project?.name ?? input.project,
      runId: typeof bucket.name === 'string' ? bucket.name : input.runId,
      historyLineCount: typeof bucket.historyLineCount === 'number' ? bucket.historyLineCount : 0,
    };
  }

  /** One file_stream request. */
  async fileStream(entity: string, project: string, runId: string, body: FileStreamBody): Promise<void> {
    const seg = (s: string) => encodeURIComponent(s);
    await this.post(`files/${seg(entity)}/${seg(project)}/${seg(runId)}/file_stream`, body);
  }
}
