// Types of offgrid's page client (client.js): every answer of docs/contract.md it returns.

/** A field value of a record. */
export type FieldValue = string | number | boolean | null;
/** A record: its fields, system fields included (`sys_id`, `sys_mod_count`, ...). */
export type OgRecord = { sys_id: string; [field: string]: FieldValue };
/** `YYYY-MM-DD HH:MM:SS`, UTC. */
export type Timestamp = string;

/** An error answer in the project's envelope (`code` is stable, `message` is for a person). */
export class OffgridError extends Error {
  constructor(status: number, code: string, message: string, detail?: unknown);
  /** The HTTP status; 0 when no answer came. */
  status: number;
  /** `not_found`, `invalid_inputs`, `unavailable_offline`, ... (docs/contract.md, Errors). */
  code: string;
  /** `null` unless the code has one, e.g. `{inputs: {name: message}}` for `invalid_inputs`. */
  detail: any;
  static from(response: Response): Promise<OffgridError>;
}

export const CHANNEL: 'offgrid';

export interface User {
  user_name: string;
  sys_id: string;
  roles: string[];
}

export type Day = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface Schedule {
  enabled: boolean;
  days: Day[];
  /** Local time, `HH:MM`. */
  time: string;
  wifi_only: boolean;
  utc_offset_minutes: number;
}

export interface Counts {
  pending: number;
  failed: number;
  blocked: number;
}

export interface Warning {
  code: 'expiry' | 'expired' | 'connection_unknown' | string;
  message: string;
  expires_at?: Timestamp;
  unsynced?: number;
  [key: string]: unknown;
}

export interface Status {
  mode: 'online' | 'offline';
  offline_mode: boolean;
  network: boolean;
  user: User | null;
  cache: { present: boolean; downloaded_at: Timestamp | null; expires_at: Timestamp | null; records: number };
  outbox: Counts;
  schedule: Schedule;
  next_download: Timestamp | null;
  warnings: Warning[];
  last_error: { at: Timestamp; where: string; message: string } | null;
}

export interface DownloadReport {
  full: boolean;
  received: number;
  total: number;
  watermark: string;
  downloaded_at: Timestamp;
  expires_at: Timestamp;
}

export interface SyncReport {
  applied: number;
  failed: number;
  blocked: number;
  remaining: number;
  batches: number;
  stopped?: string;
}

export interface SyncAnswer extends SyncReport {
  cache_cleared: boolean;
}

/** What a background task started by `setOfflineMode` ended with, when it failed. */
export interface TaskError {
  error: string;
  message: string;
}

export interface ModeAnswer {
  offline_mode: boolean;
  download?: DownloadReport | TaskError;
  sync?: SyncAnswer | TaskError;
}

export type EntryState = 'pending' | 'syncing' | 'failed' | 'blocked';

export interface OutboxEntry {
  id: string;
  seq: number;
  user: string;
  action: string;
  table: string;
  sys_id: string;
  inputs: Record<string, unknown>;
  base: { mod_count: number; fields: Record<string, FieldValue> };
  queued_at: Timestamp;
  attempts: number;
  state: EntryState;
  /** Why it failed (with the instance's current record where there is one) or waits. */
  error: { code: string; message: string; field?: string; record?: OgRecord | null } | null;
  next_attempt_at: Timestamp | null;
}

export interface OutboxAnswer {
  entries: OutboxEntry[];
  counts: Counts;
}

export interface DeleteEntryAnswer {
  deleted: string;
  /** Whether the record was rolled back to an instance version. */
  record: boolean;
}

export interface LogoutAnswer {
  /** Who was signed out. */
  logged_out: string;
  instance_logged_out: boolean;
  discarded: number;
}

export type InputType = 'string' | 'text' | 'number' | 'boolean' | 'choice' | 'datetime' | 'file';

export interface ActionInput {
  name: string;
  label: string;
  type: InputType;
  required: boolean;
  options?: string[];
}

export interface ActionStep {
  mode: 'offline' | 'online' | 'both';
  op: 'validate' | 'update' | 'create' | 'delete' | 'journal' | 'attach' | 'hook';
  [key: string]: unknown;
}

export interface ActionDefinition {
  name: string;
  label: string;
  table: string;
  offline: boolean;
  roles?: string[];
  condition?: string;
  inputs: ActionInput[];
  steps: ActionStep[];
}

export interface Config {
  /** Table → the encoded query of the records kept offline. */
  tables: Record<string, string>;
  actions: ActionDefinition[];
  policy: {
    cache_ttl_s: number;
    warn_before_s: number[];
    clear_cache_after_sync: boolean;
    keep_outbox_on_expiry: boolean;
    [key: string]: unknown;
  };
  user: User;
}

/** An action as it stands for a record (or, record-less, for a table) and the signed-in user, now. */
export interface ApplicableAction {
  name: string;
  label: string;
  table: string;
  inputs: ActionInput[];
  offline: boolean;
  /** Whether its condition holds on the local record and the user's roles allow it. */
  applies: boolean;
  /** Whether it can run now (false offline for actions not available offline). */
  available: boolean;
  /** Why it is not available, for the user; null when it is. */
  reason: string | null;
}

export interface FileInput {
  file_name: string;
  content_type: string;
  size_bytes: number;
  /** sha-256 of the bytes, hex. */
  hash: string;
  /** The bytes, base64. */
  data?: string;
}

export interface RunOptions {
  table: string;
  /** The record it runs on; left out for a record-less action, which creates its record. */
  sys_id?: string;
  inputs?: Record<string, unknown>;
}

export interface ActionAnswer {
  /** The target record after the action (null if it deleted it); for a record-less action, the record it created. */
  result: OgRecord | null;
  created: { table: string; record: OgRecord }[];
  /** Whether it deleted the target. */
  deleted: boolean;
  attachments: OgRecord[];
  /** Whether it was run on the device and queued (offline) rather than on the instance. */
  queued: boolean;
  /** When queued: the outbox entry's id and state. */
  outbox_id?: string;
  state?: EntryState;
}

export interface ListOptions {
  /** An encoded query (`sysparm_query`). */
  query?: string;
  limit?: number;
  offset?: number;
  fields?: string[] | string;
}

export interface ListAnswer {
  records: OgRecord[];
  /** Matches before paging (`X-Total-Count`). */
  total: number;
  /** Whether the offline cache answered. */
  fromCache: boolean;
}

export type OffgridEvent =
  | { type: 'status'; status: Status }
  | { type: 'download-progress'; done: number; total: number }
  | { type: 'outbox-changed'; outbox: Counts }
  | { type: 'sync-progress'; report: SyncReport }
  | { type: 'expiry-warning'; warning: Warning }
  | { type: 'record-changed'; table: string; sys_id: string };

export type EventType = OffgridEvent['type'];

export interface Drafts {
  /** The draft saved under `key`, or null. */
  get<T = unknown>(key: string): Promise<T | null>;
  put(key: string, draft: unknown): Promise<{ key: string; saved: true }>;
  delete(key: string): Promise<{ key: string; deleted: true }>;
}

export class Offgrid {
  constructor(options?: { base?: string });
  readonly registration: ServiceWorkerRegistration | null;
  readonly drafts: Drafts;

  register(url?: string, options?: { scope?: string; heartbeatMs?: number }): Promise<ServiceWorkerRegistration>;
  onUpdateReady(handler: (registration: ServiceWorkerRegistration) => void): () => void;
  /** Activates the waiting version and reloads; false when none waits. */
  applyUpdate(): Promise<boolean>;
  on<T extends EventType>(type: T, handler: (event: Extract<OffgridEvent, { type: T }>) => void): () => void;
  on(type: '*', handler: (event: OffgridEvent) => void): () => void;

  request<T = any>(method: string, path: string, body?: unknown): Promise<T>;

  login(userName: string, password: string): Promise<User>;
  logout(options?: { discardUnsynced?: boolean }): Promise<LogoutAnswer>;

  status(): Promise<Status>;
  setOfflineMode(offline: boolean): Promise<ModeAnswer>;
  download(options?: { full?: boolean }): Promise<DownloadReport>;
  outbox(): Promise<OutboxAnswer>;
  sync(): Promise<SyncAnswer>;
  resolve(id: string, inputs?: Record<string, unknown>): Promise<OutboxEntry>;
  deleteEntry(id: string): Promise<DeleteEntryAnswer>;
  saveSchedule(schedule: Schedule): Promise<{ schedule: Schedule; next_download: Timestamp | null }>;

  config(): Promise<Config>;
  /** With no `sysId`: the table's record-less actions (those that create a record). */
  actionsFor(table: string, sysId?: string): Promise<ApplicableAction[]>;
  run(name: string, options: RunOptions): Promise<ActionAnswer>;

  list(table: string, options?: ListOptions): Promise<ListAnswer>;
  get(table: string, sysId: string): Promise<{ record: OgRecord | null; fromCache: boolean }>;
  journal(table: string, sysId: string): Promise<OgRecord[]>;
  attachments(table: string, sysId: string): Promise<OgRecord[]>;
  attachmentUrl(attachment: { sys_id: string }): string;

  static fileInput(file: Blob, fileName?: string): Promise<FileInput>;
}
