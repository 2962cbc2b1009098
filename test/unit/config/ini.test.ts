import assert from 'node:assert/strict';
import { parseIni } from '../../../core/config/ini.js';

describe('INI reader (Flexisip syntax)', () => {
  it('reads sections, key=value pairs and ignores # comments and blank lines', () => {
    const doc = parseIni('# header\n[global]\nlog-level=debug\n\n[b2bua-server]\n# comment\ntransport = sip:127.0.0.1:6067;transport=tcp \n');
    assert.deepEqual([...doc.sections.keys()], ['global', 'b2bua-server']);
    assert.equal(doc.sections.get('b2bua-server')!.entries.get('transport')!.value, 'sip:127.0.0.1:6067;transport=tcp');
    assert.equal(doc.sections.get('b2bua-server')!.entries.get('transport')!.line, 7);
    assert.deepEqual(doc.problems, []);
  });

  it('keeps = and # inside values (regexes, URI parameters)', () => {
    const doc = parseIni('[s]\nk=sip:.*#x;transport=tls\n');
    assert.equal(doc.sections.get('s')!.entries.get('k')!.value, 'sip:.*#x;transport=tls');
  });

  it('joins backslash-continued lines with one space', () => {
    const doc = parseIni('[s]\nk=zrtp sip:.*zrtp.* \\\n   sdes sip:.*sdes.* \\\n   none sip:.*\nother=1\n');
    assert.equal(doc.sections.get('s')!.entries.get('k')!.value, 'zrtp sip:.*zrtp.* sdes sip:.*sdes.* none sip:.*');
    assert.equal(doc.sections.get('s')!.entries.get('other')!.value, '1');
  });

  it('joins indented continuation lines that are not key=value', () => {
    const doc = parseIni('[s]\nk=a b\n  c d\n\tkey2=x\n');
    assert.equal(doc.sections.get('s')!.entries.get('k')!.value, 'a b c d');
    assert.equal(doc.sections.get('s')!.entries.get('key2')!.value, 'x');
  });

  it('keeps an empty value empty and lets a later key win', () => {
    const doc = parseIni('[s]\nk=\nj=1\nj=2\n');
    assert.equal(doc.sections.get('s')!.entries.get('k')!.value, '');
    assert.equal(doc.sections.get('s')!.entries.get('j')!.value, '2');
  });

  it('merges a repeated section', () => {
    const doc = parseIni('[s]\na=1\n[t]\n[s]\nb=2\n');
    assert.deepEqual([...doc.sections.get('s')!.entries.keys()], ['a', 'b']);
  });

  it('reads CRLF files and a BOM', () => {
    const doc = parseIni('\uFEFF[s]\r\na=1\r\n');
    assert.equal(doc.sections.get('s')!.entries.get('a')!.value, '1');
  });

  it('reports garbage lines, keys before any section and a dangling continuation with line numbers', () => {
    const doc = parseIni('a=1\n[s]\nthis is not ini\nk=x \\');
    assert.equal(doc.problems.length, 3);
    assert.match(doc.problems[0]!, /^line 1: "a" appears before any \[section\]/);
    assert.match(doc.problems[1]!, /^line 3: expected "\[section\]", "key=value" or "# comment", found "this is not ini"/);
    assert.match(doc.problems[2]!, /^line 4: "k" ends with "\\" but the file ends/);
  });
});
