import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { B2buaError, b2buaError, CATALOG, ErrorCodes, errorReason, isB2buaError } from '../../../core/errors/index.js';
import { ERRORS_README, regenerate, renderCatalogTable } from '../../../core/errors/readme-table.js';
import { toB2buaError } from '../../../core/media/gst/session.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CATALOG_FILE = path.join(ROOT, 'core', 'errors', 'catalog.ts');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts'))
    .map((d) => path.join(d.parentPath, d.name))
    .filter((f) => f !== CATALOG_FILE);
}

describe('error catalog', () => {
  it('core/errors/README.md has the table the catalog generates (run `npx tsx core/errors/readme-table.ts --write`)', () => {
    const readme = readFileSync(ERRORS_README, 'utf8');
    assert.ok(readme.includes(renderCatalogTable()), 'the README holds the table between its markers');
    assert.equal(readme, regenerate(readme));
  });

  it('every code is raised (quoted) somewhere in core/ or plugins/', () => {
    const text = [...sources(path.join(ROOT, 'core')), ...sources(path.join(ROOT, 'plugins'))].map((f) => readFileSync(f, 'utf8')).join('\n');
    const unraised = Object.keys(CATALOG).filter((c) => !text.includes(`'${c}'`));
    assert.deepEqual(unraised, [], 'catalog codes nothing raises: raise them or remove them');
  });

  it('every entry has a code-shaped key, a one-line fix and, when a worker raises it, no status of its own', () => {
    for (const [code, e] of Object.entries(CATALOG)) {
      assert.match(code, /^B2BUA_[A-Z0-9_]+$/);
      assert.ok(e.fix.length > 0 && !e.fix.includes('\n'), code);
      if ('category' in e) assert.ok(!('status' in e), `${code}: the category's status applies`);
      if ('status' in e) assert.ok(e.status >= 400 && e.status < 700, code);
    }
    assert.equal(ErrorCodes.B2BUA_INTERNAL, CATALOG.B2BUA_INTERNAL.fix);
  });

  it('b2buaError renders the template after the code and carries the status', () => {
    const e = b2buaError('B2BUA_SIP_UNROUTABLE', { uri: 'tel:1', why: 'not a sip:/sips: URI' });
    assert.ok(e instanceof B2buaError && e instanceof Error);
    assert.equal(e.message, 'B2BUA_SIP_UNROUTABLE: cannot route to "tel:1": not a sip:/sips: URI');
    assert.equal(e.reason, 'cannot route to "tel:1": not a sip:/sips: URI');
    assert.equal(errorReason(e), e.reason);
    assert.equal(errorReason(new Error('plain')), 'plain');
    assert.equal(e.status, 503);
    assert.ok(isB2buaError(e, 'B2BUA_SIP_UNROUTABLE') && !isB2buaError(e, 'B2BUA_INTERNAL'));
    assert.equal(b2buaError('B2BUA_CALL_REJECTED', { status: 403, reason: 'Forbidden' }, { status: 403 }).status, 403);
    assert.equal(b2buaError('B2BUA_TLS_CREDENTIALS_MISSING', {}).status, undefined);
    // @ts-expect-error a placeholder is missing
    b2buaError('B2BUA_SIP_UNROUTABLE', { uri: 'x' });
    const cause = new Error('boom');
    assert.equal(b2buaError('B2BUA_INTERNAL', { bug: 'x' }, { cause }).cause, cause);
  });

  it('the legacy constructor keeps working and takes the status from the catalog', () => {
    const e = new B2buaError('B2BUA_MEDIA_UNSUPPORTED', 'no zrtp', { details: ['d'] });
    assert.equal(e.message, 'B2BUA_MEDIA_UNSUPPORTED: no zrtp');
    assert.deepEqual(e.details, ['d']);
    assert.equal(e.status, 488);
  });

  it('a media worker error is reported under its category with the context; other coded errors pass through', () => {
    const worker = b2buaError('B2BUA_SRTP_SUITE_REFUSED', { where: 'leg a stream 0 (audio)', suite: 'AES_192_CM_HMAC_SHA1_80', why: 'no' });
    const wrapped = toB2buaError(worker, 'media session m1');
    assert.equal(wrapped.message, 'B2BUA_MEDIA_UNSUPPORTED: media session m1: leg a stream 0 (audio): SRTP suite AES_192_CM_HMAC_SHA1_80 is refused: no');
    assert.equal(wrapped.status, 488);
    assert.equal(wrapped.cause, worker);
    const lost = toB2buaError(b2buaError('B2BUA_MEDIA_WORKER_LOST', { pid: 12, what: 'is gone' }), 'media session m1 stats');
    assert.equal(lost.message, 'B2BUA_MEDIA_FAILED: media session m1 stats: media worker 12 is gone');
    const own = b2buaError('B2BUA_MEDIA_FAILED', { problem: 'no media worker is running' });
    assert.equal(toB2buaError(own, 'x'), own);
    assert.equal(toB2buaError(new Error('plain'), 'ctx').message, 'B2BUA_MEDIA_FAILED: ctx: plain');
  });
});
