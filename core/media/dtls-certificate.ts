/**
 * The DTLS-SRTP certificate of this server: one per process tree (every call and every media worker
 * shares it, as Flexisip's B2BUA does with liblinphone's), kept under `data-directory` so that it
 * survives restarts: created at first start, reused, replaced when it expires within a week.
 * Made by the openssl command line (Debian's openssl package): Node can hash and check a certificate
 * but not create one. The SDP fingerprint is the certificate's SHA-256 (RFC 8122).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { b2buaError } from '../errors/index.js';

export interface DtlsCertificate {
  /** Certificate and private key, PEM. */
  readonly pem: string;
  /** `sha-256 AB:CD:…` as SDP's a=fingerprint writes it. */
  readonly fingerprint: string;
  readonly file: string;
  readonly validTo: string;
}

const FILE = 'dtls-srtp.pem';
const DAYS = 365;
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

export function sdpFingerprint(pem: string): string {
  return `sha-256 ${new X509Certificate(pem).fingerprint256}`;
}

function usable(pem: string): X509Certificate | undefined {
  try {
    const cert = new X509Certificate(pem);
    if (!/PRIVATE KEY-----/.test(pem)) return undefined;
    return Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS ? cert : undefined;
  } catch {
    return undefined;
  }
}

function create(): string {
  try {
    return execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(DAYS),
      '-subj', '/CN=b2bua-server', '-keyout', '-', '-out', '-',
    ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    throw b2buaError('B2BUA_MEDIA_UNSUPPORTED', { problem: `cannot create the DTLS-SRTP certificate with openssl (${(e as Error).message.split('\n')[0]}): install Debian's openssl package` }, { cause: e });
  }
}

/** The certificate in `dataDirectory`, created (mode 0600) when missing, unreadable or about to expire. */
export function loadDtlsCertificate(dataDirectory: string): DtlsCertificate {
  const file = path.join(dataDirectory, FILE);
  let pem = existsSync(file) ? readFileSync(file, 'utf8') : '';
  let cert = usable(pem);
  if (!cert) {
    pem = create();
    cert = usable(pem);
    if (!cert) throw b2buaError('B2BUA_MEDIA_UNSUPPORTED', { problem: 'openssl made a DTLS-SRTP certificate Node cannot read' });
    try {
      mkdirSync(dataDirectory, { recursive: true });
      writeFileSync(`${file}.tmp`, pem, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (e) {
      throw b2buaError('B2BUA_MEDIA_UNSUPPORTED', { problem: `cannot write the DTLS-SRTP certificate "${file}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): make [b2bua-server] data-directory writable` }, { cause: e });
    }
  }
  return { pem, fingerprint: `sha-256 ${cert.fingerprint256}`, file, validTo: cert.validTo };
}
