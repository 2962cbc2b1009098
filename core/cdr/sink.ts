/**
 * Where call detail records go: one `call detail record` log line each (info, field `cdr`) when `cdr-file` is empty,
 * else one JSON line each appended to that file, rotated by size (`cdr-file-max-size`: the file becomes <file>.1,
 * <file>.1 becomes <file>.2, ... up to `cdr-file-keep` old files, older ones deleted).
 * Nothing here blocks the event loop: lines go through one append stream; a rotation closes it, renames with
 * fs.promises and reopens, the records written meanwhile waiting in memory. A write error is logged once; the
 * records then go to the log, so that none is lost and no call is affected.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CallDetailRecord } from '../plugin-api/index.js';
import type { Logger } from '../vocabulary/index.js';

export interface CdrSinkOptions {
  /** Absolute path; empty = the log. */
  readonly file: string;
  /** Bytes; 0 = never rotate. */
  readonly maxSize: number;
  /** Rotated files kept besides the current one. */
  readonly keep: number;
}

export interface CdrSink {
  write(record: CallDetailRecord): void;
  /** Resolves once every record written so far is in the file (shutdown). */
  close(): Promise<void>;
}

/** Why `file` cannot be a CDR file (its folder missing, or not writable), for a start-up configuration problem; undefined = fine. */
export function cdrFileProblem(file: string): string | undefined {
  const target = fs.existsSync(file) ? file : path.dirname(file);
  try {
    fs.accessSync(target, fs.constants.W_OK);
    return undefined;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return `cannot write "${file}" (${why}); give a file in an existing folder this user may write, or empty to log the records`;
  }
}

export function createCdrSink(options: CdrSinkOptions, log: Logger): CdrSink {
  if (options.file === '') return { write: (record) => logRecord(log, record), close: () => Promise.resolve() };
  return new CdrFile(options, log);
}

function logRecord(log: Logger, record: CallDetailRecord): void {
  log.info({ cdr: record }, 'call detail record');
}

class CdrFile implements CdrSink {
  private stream: fs.WriteStream;
  private size: number;
  /** Set while a rotation runs; records wait in `pending` meanwhile. */
  private rotating: Promise<void> | undefined;
  private readonly pending: CallDetailRecord[] = [];
  private failed = false;

  constructor(private readonly options: CdrSinkOptions, private readonly log: Logger) {
    this.size = sizeOf(options.file);
    this.stream = this.open();
  }

  write(record: CallDetailRecord): void {
    this.pending.push(record);
    if (!this.rotating) this.flush();
  }

  async close(): Promise<void> {
    while (this.rotating) await this.rotating;
    await endStream(this.stream);
  }

  /** Pending records into the stream, until one would take the file past max-size: rotate, then go on. */
  private flush(): void {
    const { maxSize } = this.options;
    while (this.pending.length > 0) {
      if (this.failed) { for (const record of this.pending.splice(0)) logRecord(this.log, record); return; }
      const line = `${JSON.stringify(this.pending[0])}\n`;
      const bytes = Buffer.byteLength(line);
      if (maxSize > 0 && this.size > 0 && this.size + bytes > maxSize) {
        this.rotating = this.rotate().finally(() => {
          this.rotating = undefined;
          this.flush();
        });
        return;
      }
      this.pending.shift();
      this.stream.write(line);
      this.size += bytes;
    }
  }

  private open(): fs.WriteStream {
    const stream = fs.createWriteStream(this.options.file, { flags: 'a' });
    stream.on('error', (e) => {
      if (!this.failed) {
        this.log.error({ cdrFile: this.options.file, err: e.message }, 'call detail records: cannot write the file; logging them instead from now on');
      }
      this.failed = true;
    });
    return stream;
  }

  private async rotate(): Promise<void> {
    const { file, keep } = this.options;
    await endStream(this.stream);
    try {
      if (keep === 0) await fs.promises.rm(file, { force: true });
      else {
        await fs.promises.rm(`${file}.${keep}`, { force: true });
        for (let i = keep - 1; i >= 1; i--) await fs.promises.rename(`${file}.${i}`, `${file}.${i + 1}`).catch(ignoreMissing);
        await fs.promises.rename(file, `${file}.1`);
      }
    } catch (e) {
      this.log.warn({ cdrFile: file, err: (e as Error).message }, 'call detail records: rotation failed; appending to the same file');
    }
    this.size = 0; // a failed rotation is tried again after another max-size of records, not at every one
    this.stream = this.open();
  }
}

function ignoreMissing(e: NodeJS.ErrnoException): void {
  if (e.code !== 'ENOENT') throw e;
}

function endStream(stream: fs.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('error', () => resolve());
    stream.end(() => resolve());
  });
}

function sizeOf(file: string): number {
  try { return fs.statSync(file).size; } catch { return 0; }
}
