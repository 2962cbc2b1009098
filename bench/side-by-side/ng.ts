/**
 * rtpengine's ng control protocol over UDP: "<cookie> <bencoded dictionary>" both ways. A minimal bencode
 * (strings, integers, lists, dictionaries) is all it needs; strings decode as UTF-8.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';

export type Bencoded = string | number | Bencoded[] | { [k: string]: Bencoded };

/** A decoded value as text (strings as they are). */
export function text(v: Bencoded | undefined): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? '';
}

export function bencode(v: Bencoded): Buffer {
  if (typeof v === 'number') return Buffer.from(`i${Math.trunc(v)}e`);
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    return Buffer.concat([Buffer.from(`${b.length}:`), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(v[k]!)]), Buffer.from('e')]);
}

export function bdecode(buf: Buffer): Bencoded {
  let i = 0;
  const value = (): Bencoded => {
    const c = String.fromCharCode(buf[i]!);
    if (c === 'i') {
      const end = buf.indexOf(0x65, i);
      const n = Number(buf.subarray(i + 1, end).toString());
      i = end + 1;
      return n;
    }
    if (c === 'l') {
      i++;
      const out: Bencoded[] = [];
      while (buf[i] !== 0x65) {
        if (i >= buf.length) throw new Error('bencode: unterminated list');
        out.push(value());
      }
      i++;
      return out;
    }
    if (c === 'd') {
      i++;
      const out: Record<string, Bencoded> = {};
      while (buf[i] !== 0x65) {
        if (i >= buf.length) throw new Error('bencode: unterminated dictionary');
        const k = value();
        if (typeof k !== 'string') throw new Error('bencode: dictionary key is not a string');
        out[k] = value();
      }
      i++;
      return out;
    }
    const colon = buf.indexOf(0x3a, i);
    if (colon < 0 || !/^\d+$/.test(buf.subarray(i, colon).toString())) throw new Error(`bencode: unexpected byte at ${i}`);
    const len = Number(buf.subarray(i, colon).toString());
    const s = buf.subarray(colon + 1, colon + 1 + len).toString('utf8');
    i = colon + 1 + len;
    return s;
  };
  const v = value();
  if (i !== buf.length) throw new Error('bencode: trailing bytes');
  return v;
}

/** One ng client socket; requests are matched to replies by cookie. */
export class NgClient {
  private readonly pending = new Map<string, (reply: Record<string, Bencoded>) => void>();

  private constructor(private readonly socket: dgram.Socket, private readonly port: number) {
    socket.on('message', (m) => {
      const sp = m.indexOf(0x20);
      const cookie = m.subarray(0, sp).toString();
      const done = this.pending.get(cookie);
      if (!done) return;
      this.pending.delete(cookie);
      done(bdecode(m.subarray(sp + 1)) as Record<string, Bencoded>);
    });
  }

  static async open(port: number): Promise<NgClient> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new NgClient(s, port);
  }

  /** Sends `command` (retried every 500 ms, 5 tries); throws on a result other than "ok". */
  async request(command: Record<string, Bencoded>): Promise<Record<string, Bencoded>> {
    const cookie = randomBytes(8).toString('hex');
    const msg = Buffer.concat([Buffer.from(`${cookie} `), bencode(command)]);
    const reply = await new Promise<Record<string, Bencoded>>((resolve, reject) => {
      let tries = 0;
      const send = (): void => {
        if (tries++ === 5) {
          this.pending.delete(cookie);
          reject(new Error(`rtpengine ng: no reply to ${text(command['command'])} on 127.0.0.1:${this.port}`));
          return;
        }
        this.socket.send(msg, this.port, '127.0.0.1');
        timer = setTimeout(send, 500);
      };
      let timer: NodeJS.Timeout | undefined;
      this.pending.set(cookie, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      send();
    });
    if (reply['result'] !== 'ok') {
      throw new Error(`rtpengine ng ${text(command['command'])}: ${text(reply['result'])} ${text(reply['error-reason'])}`);
    }
    return reply;
  }

  close(): void {
    this.socket.close();
  }
}
