import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDelimited, readDelimited, type DelimitedOptions, type DelimitedRow } from '../../src/refresh/readers/delimited.js';
import { SourceFileError } from '../../src/refresh/readers/errors.js';
import { expandSourcePath } from '../../src/refresh/readers/files.js';
import { readJsonl, type JsonlOptions } from '../../src/refresh/readers/jsonl.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kindred-readers-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let fileCounter = 0;
function fixture(content: string | Buffer, name = `f${++fileCounter}.csv`): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  return file;
}

async function readAll(file: string, options: DelimitedOptions = {}): Promise<{ header: string[] | null; rows: DelimitedRow[] }> {
  const opened = await openDelimited(file, options);
  const rows: DelimitedRow[] = [];
  for await (const row of opened.rows) rows.push(row);
  return { header: opened.header, rows };
}

async function rejectsWith(promise: Promise<unknown>, message: string | RegExp, line?: number): Promise<SourceFileError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof SourceFileError, `expected a SourceFileError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    if (line !== undefined) assert.equal(err.line, line);
    return err;
  }
  assert.fail('expected a rejection');
}

/** Every chunk size must give the same result: exercises records, quotes, CRLF, delimiters and UTF-8 characters split between chunks. */
const CHUNK_SIZES = [1, 2, 3, 5, 7, 64 * 1024];

describe('SourceFileError', () => {
  test('formats file:line: reason', () => {
    const err = new SourceFileError('unterminated quoted field', 'data/a.csv', 12);
    assert.equal(err.message, 'data/a.csv:12: unterminated quoted field');
    assert.equal(err.reason, 'unterminated quoted field');
    assert.equal(err.file, 'data/a.csv');
    assert.equal(err.line, 12);
    assert.equal(err.name, 'SourceFileError');
    assert.ok(err instanceof Error);
    assert.equal(new SourceFileError('no such file', 'b.csv').message, 'b.csv: no such file');
  });
});

describe('readDelimited / openDelimited', () => {
  test('plain rows, header trimmed, line numbers', async () => {
    const file = fixture(' id , name,city \n1,Ann,Paris\n2,Bob,\n');
    const { header, rows } = await readAll(file);
    assert.deepEqual(header, ['id', 'name', 'city']);
    assert.deepEqual(rows, [
      { line: 2, fields: ['1', 'Ann', 'Paris'] },
      { line: 3, fields: ['2', 'Bob', ''] },
    ]);
  });

  test('RFC 4180 quoting: delimiters, doubled quotes, empty quoted fields', async () => {
    const file = fixture('a,b,c\n"x, y","say ""hi""",""\n"",plain,"a""b"\n');
    const { rows } = await readAll(file);
    assert.deepEqual(
      rows.map((r) => r.fields),
      [
        ['x, y', 'say "hi"', ''],
        ['', 'plain', 'a"b'],
      ],
    );
  });

  test('a quote inside an unquoted field is data; text after a closing quote is kept', async () => {
    const file = fixture('a,b\n5" screen,x\n"abc"def,y\n');
    const { rows } = await readAll(file);
    assert.deepEqual(
      rows.map((r) => r.fields),
      [
        ['5" screen', 'x'],
        ['abcdef', 'y'],
      ],
    );
  });

  test('line breaks inside quoted fields keep line numbers right', async () => {
    const text = 'id,note\n1,"line one\nline two\nline three"\n2,single\n3,"a\n\nb"\n4,end\n';
    for (const chunkSize of CHUNK_SIZES) {
      const { rows } = await readAll(fixture(text), { chunkSize });
      assert.deepEqual(
        rows,
        [
          { line: 2, fields: ['1', 'line one\nline two\nline three'] },
          { line: 5, fields: ['2', 'single'] },
          { line: 6, fields: ['3', 'a\n\nb'] },
          { line: 9, fields: ['4', 'end'] },
        ],
        `chunkSize ${chunkSize}`,
      );
    }
  });

  test('CRLF line endings (a CRLF inside quotes is data)', async () => {
    const text = 'id,name\r\n1,Ann\r\n2,"multi\r\nline"\r\n3,"q"\r\n4,last';
    for (const chunkSize of CHUNK_SIZES) {
      const { header, rows } = await readAll(fixture(text), { chunkSize });
      assert.deepEqual(header, ['id', 'name']);
      assert.deepEqual(
        rows,
        [
          { line: 2, fields: ['1', 'Ann'] },
          { line: 3, fields: ['2', 'multi\r\nline'] },
          { line: 5, fields: ['3', 'q'] },
          { line: 6, fields: ['4', 'last'] },
        ],
        `chunkSize ${chunkSize}`,
      );
    }
  });

  test('UTF-8 BOM is stripped; multi-byte characters survive any chunking', async () => {
    const text = '\uFEFFid,name\n1,Zoë 🙂 Łódź\n2,"日本, 語"\n';
    for (const chunkSize of CHUNK_SIZES) {
      const { header, rows } = await readAll(fixture(text), { chunkSize });
      assert.deepEqual(header, ['id', 'name'], `chunkSize ${chunkSize}`);
      assert.deepEqual(
        rows.map((r) => r.fields),
        [
          ['1', 'Zoë 🙂 Łódź'],
          ['2', '日本, 語'],
        ],
      );
    }
    // Only a BOM at the very start is removed.
    const { rows } = await readAll(fixture('a\n\uFEFFx\n'), { chunkSize: 2 });
    assert.deepEqual(rows[0].fields, ['\uFEFFx']);
    const bomOnly = await readAll(fixture('\uFEFFa,b'), { chunkSize: 1 });
    assert.deepEqual(bomOnly.header, ['a', 'b']);
  });

  test('multi-character delimiter', async () => {
    const text = 'rec_id, given_name, surname\nrec-1, ann, "smith, jr"\nrec-2, , o\'neil\nrec-3, "say ""x""", z\n';
    for (const chunkSize of CHUNK_SIZES) {
      const { header, rows } = await readAll(fixture(text), { delimiter: ', ', chunkSize });
      assert.deepEqual(header, ['rec_id', 'given_name', 'surname']);
      assert.deepEqual(
        rows.map((r) => r.fields),
        [
          ['rec-1', 'ann', 'smith, jr'],
          ['rec-2', '', "o'neil"],
          ['rec-3', 'say "x"', 'z'],
        ],
        `chunkSize ${chunkSize}`,
      );
    }
  });

  test('tab and semicolon delimiters', async () => {
    assert.deepEqual((await readAll(fixture('a\tb\n1 \t "2"\n'), { delimiter: '\t' })).rows[0].fields, ['1 ', ' "2"']);
    assert.deepEqual((await readAll(fixture('a;b\n"1;2";3\n'), { delimiter: ';' })).rows[0].fields, ['1;2', '3']);
  });

  test('invalid delimiters are rejected', async () => {
    const file = fixture('a\n');
    for (const delimiter of ['', '"', '\n', ',\r']) {
      await assert.rejects(openDelimited(file, { delimiter }), RangeError);
    }
  });

  test('latin1 / windows-1252 / iso-8859-15 files', async () => {
    const latin1 = fixture(Buffer.from('id,name\n1,Müller\n2,"Gérard, Çedille"\n', 'latin1'));
    for (const encoding of ['latin1', 'windows-1252', 'iso-8859-1']) {
      const { rows } = await readAll(latin1, { encoding, chunkSize: 3 });
      assert.deepEqual(
        rows.map((r) => r.fields),
        [
          ['1', 'Müller'],
          ['2', 'Gérard, Çedille'],
        ],
        encoding,
      );
    }
    // 0xA4 is the euro sign in ISO-8859-15 and the currency sign in latin1.
    const euro = fixture(Buffer.from([0x61, 0x0a, 0xa4, 0x0a]));
    assert.equal((await readAll(euro, { encoding: 'iso-8859-15' })).rows[0].fields[0], '€');
    assert.equal((await readAll(euro, { encoding: 'latin1' })).rows[0].fields[0], '¤');
  });

  test('a latin1 file read as UTF-8 fails on the right line, or is replaced with fatal: false', async () => {
    const file = fixture(Buffer.from('id,name\n1,Smith\n2,Müller\n3,Jones\n', 'latin1'));
    const err = await rejectsWith(readAll(file), /:3: invalid utf-8 byte sequence .*"latin1"/, 3);
    assert.equal(err.file, file);
    const { rows } = await readAll(file, { fatal: false });
    assert.deepEqual(rows[1].fields, ['2', 'M\uFFFDller']);
    // Truncated multi-byte character at the end of the file.
    const truncated = fixture(Buffer.concat([Buffer.from('a\nb\nx'), Buffer.from([0xc3])]));
    await rejectsWith(readAll(truncated), /invalid utf-8 byte sequence/, 3);
  });

  test('UTF-16LE (with and without BOM)', async () => {
    const text = 'id,name\r\n1,Zoë\r\n2,"日本\r\n語"\r\n3,x\r\n';
    for (const chunkSize of [1, 3, 64 * 1024]) {
      for (const content of [Buffer.from('\uFEFF' + text, 'utf16le'), Buffer.from(text, 'utf16le')]) {
        const { header, rows } = await readAll(fixture(content), { encoding: 'utf-16le', chunkSize });
        assert.deepEqual(header, ['id', 'name']);
        assert.deepEqual(rows, [
          { line: 2, fields: ['1', 'Zoë'] },
          { line: 3, fields: ['2', '日本\r\n語'] },
          { line: 5, fields: ['3', 'x'] },
        ]);
      }
    }
    // An unpaired surrogate on line 3.
    const bad = Buffer.concat([Buffer.from('\uFEFFa,b\n1,2\n3,', 'utf16le'), Buffer.from([0x00, 0xd8]), Buffer.from('x\n', 'utf16le')]);
    await rejectsWith(readAll(fixture(bad), { encoding: 'utf-16le' }), /:3: invalid utf-16le byte sequence$/, 3);
    await rejectsWith(readAll(fixture('a\n'), { encoding: 'klingon' }), /unsupported encoding "klingon"/);
  });

  test('field count mismatch: onError reports and skips; without it the rows before are yielded, then it throws', async () => {
    const file = fixture('a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n"x\ny",1\n13,14,15\n');
    const errors: SourceFileError[] = [];
    const { rows } = await readAll(file, { onError: (e) => errors.push(e) });
    assert.deepEqual(
      rows.map((r) => [r.line, r.fields[0]]),
      [
        [2, '1'],
        [4, '6'],
        [8, '13'],
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.message),
      [
        `${file}:3: expected 3 fields, found 2`,
        `${file}:5: expected 3 fields, found 4`,
        `${file}:6: expected 3 fields, found 2 (the record spans lines 6-7: unbalanced quote?)`,
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.line),
      [3, 5, 6],
    );

    const seen: number[] = [];
    await rejectsWith(
      (async () => {
        for await (const row of readDelimited(file)) seen.push(row.line);
      })(),
      `${file}:3: expected 3 fields, found 2`,
      3,
    );
    assert.deepEqual(seen, [2]);
  });

  test('unterminated quoted field names the file and the line of the opening quote', async () => {
    const file = fixture('id,note\n1,ok\n2,"ok"\n3,"never closed\n4,more\n5,text\n');
    for (const chunkSize of [3, 64 * 1024]) {
      const seen: number[] = [];
      await rejectsWith(
        (async () => {
          for await (const row of readDelimited(file, { chunkSize })) seen.push(row.line);
        })(),
        `${file}:4: unterminated quoted field`,
        4,
      );
      assert.deepEqual(seen, [2, 3]);
    }
    // In the header too.
    await rejectsWith(openDelimited(fixture('"id,name\n1,2\n')), /:1: unterminated quoted field$/, 1);
  });

  test('an unbalanced quote in a huge file fails fast with maxRecordChars', async () => {
    const file = fixture('a,b\n1,"oops\n' + '2,x\n'.repeat(5000));
    await rejectsWith(readAll(file, { maxRecordChars: 1000, chunkSize: 512 }), /:2: record longer than 1000 characters/, 2);
  });

  test('blank lines are skipped, a trailing line without newline is read', async () => {
    const { header, rows } = await readAll(fixture('\n\na,b\n\n1,2\r\n\r\n3,4'));
    assert.deepEqual(header, ['a', 'b']);
    assert.deepEqual(rows, [
      { line: 5, fields: ['1', '2'] },
      { line: 7, fields: ['3', '4'] },
    ]);
  });

  test('header: false; expectedFields from the first row or the option', async () => {
    const file = fixture('1,2\n3,4\n5\n');
    const errors: string[] = [];
    const { header, rows } = await readAll(file, { header: false, onError: (e) => errors.push(e.reason) });
    assert.equal(header, null);
    assert.deepEqual(
      rows.map((r) => r.fields),
      [
        ['1', '2'],
        ['3', '4'],
      ],
    );
    assert.deepEqual(errors, ['expected 2 fields, found 1']);
    errors.length = 0;
    const third = await readAll(file, { header: false, expectedFields: 1, onError: (e) => errors.push(`${e.line}`) });
    assert.deepEqual(third.rows.map((r) => r.line), [3]);
    assert.deepEqual(errors, ['1', '2']);
  });

  test('trim option trims fields (not quoted content) and allows spaces before quotes', async () => {
    const file = fixture('a,b,c\n  1 ,  " x, y " , z  \n\t2\t,3,4\n');
    assert.deepEqual((await readAll(file, { trim: true })).rows.map((r) => r.fields), [
      ['1', ' x, y ', 'z'],
      ['2', '3', '4'],
    ]);
    // Without trim, the quote after spaces is data, so the first row splits into 4 fields.
    const errors: string[] = [];
    const untrimmed = await readAll(file, { onError: (e) => errors.push(e.reason) });
    assert.deepEqual(errors, ['expected 3 fields, found 4']);
    assert.deepEqual(untrimmed.rows.map((r) => r.fields), [['\t2\t', '3', '4']]);
  });

  test('single-column file', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => (i % 3 === 0 ? `"v${i}"` : `v${i}`));
    const { header, rows } = await readAll(fixture('value\n' + lines.join('\n') + '\n'));
    assert.deepEqual(header, ['value']);
    assert.equal(rows.length, 2000);
    assert.deepEqual(rows[1999], { line: 2001, fields: ['v1999'] });
    assert.deepEqual(rows[999], { line: 1001, fields: ['v999'] });
  });

  test('empty file, header-only file, missing file, directory', async () => {
    await rejectsWith(openDelimited(fixture('')), /: empty file: expected a header line$/);
    await rejectsWith(openDelimited(fixture('\n\r\n')), /empty file/);
    assert.deepEqual(await readAll(fixture(''), { header: false }), { header: null, rows: [] });
    const headerOnly = await readAll(fixture('a,b\n'));
    assert.deepEqual(headerOnly, { header: ['a', 'b'], rows: [] });
    const missing = path.join(tmp, 'nope.csv');
    await rejectsWith(openDelimited(missing), `${missing}: no such file`);
    await rejectsWith(readAll(tmp), /is a directory/);
  });

  test('leaving the loop early and close() release the file', async () => {
    const file = fixture('a\n1\n2\n3\n');
    for await (const row of readDelimited(file)) {
      assert.equal(row.fields[0], '1');
      break;
    }
    const opened = await openDelimited(file);
    assert.deepEqual(opened.header, ['a']);
    opened.close();
  });

  test('round-trips random data through every chunk size', async () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['a', 'b', ' ', ',', ', ', '"', '""', '\n', '\r\n', 'é', '日', '🙂', ';', 'x'];
    for (const delimiter of [',', ', ', ';']) {
      const records: string[][] = [];
      for (let r = 0; r < 60; r++) {
        const fields: string[] = [];
        for (let f = 0; f < 4; f++) {
          let v = '';
          for (let k = rand(6); k > 0; k--) v += alphabet[rand(alphabet.length)];
          fields.push(v);
        }
        records.push(fields);
      }
      const needsQuotes = (v: string): boolean => v.includes(delimiter) || /["\r\n]/.test(v);
      const encoded = records.map((fields) => fields.map((v) => (needsQuotes(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(delimiter));
      const expectedLines: number[] = [];
      let line = 2;
      for (const rec of encoded) {
        expectedLines.push(line);
        line += rec.split('\n').length;
      }
      const text = ['c1', 'c2', 'c3', 'c4'].join(delimiter) + '\r\n' + encoded.join('\r\n');
      for (const chunkSize of CHUNK_SIZES) {
        const { rows } = await readAll(fixture(text), { delimiter, chunkSize });
        assert.deepEqual(
          rows.map((r) => r.fields),
          records,
          `delimiter ${JSON.stringify(delimiter)}, chunkSize ${chunkSize}`,
        );
        assert.deepEqual(
          rows.map((r) => r.line),
          expectedLines,
        );
      }
    }
  });

  test('FEBRL dataset3.csv (", " separated)', async (t) => {
    const file = '/work/shared/datasets/febrl/dataset3.csv';
    if (!fs.existsSync(file)) {
      t.skip(`${file} is not available`);
      return;
    }
    const { header, rows } = await readAll(file, { delimiter: ', ' });
    assert.ok(header);
    assert.equal(header.length, 11);
    assert.ok(header.includes('rec_id'));
    assert.ok(header.includes('given_name'));
    assert.equal(rows.length, 5000);
    assert.ok(rows.every((r) => r.fields.length === 11));
    assert.equal(rows[0].line, 2);
    assert.equal(rows[4999].line, 5001);
    assert.match(rows[0].fields[header.indexOf('rec_id')], /^rec-\d+-(org|dup-\d+)$/);
  });

  test('FEBRL dataset4a.csv (CRLF, no final newline)', async (t) => {
    const file = '/work/shared/datasets/febrl/dataset4a.csv';
    if (!fs.existsSync(file)) {
      t.skip(`${file} is not available`);
      return;
    }
    const { header, rows } = await readAll(file, { delimiter: ', ' });
    assert.equal(header?.[10], 'soc_sec_id');
    assert.equal(rows.length, 5000);
    assert.ok(rows.every((r) => r.fields.length === 11 && !r.fields[10].endsWith('\r')));
  });
});

describe('readJsonl', () => {
  async function collect(file: string, options: JsonlOptions = {}): Promise<Array<{ line: number; record: Record<string, unknown> }>> {
    const out = [];
    for await (const r of readJsonl(file, options)) out.push(r);
    return out;
  }

  test('objects, blank lines, CRLF, BOM, no final newline, any chunking', async () => {
    const text = '\uFEFF{"id":1,"name":"Zoë 🙂"}\r\n\n  \n{"id":2,"tags":["a","b"]}\n{"id":3,"nested":{"x":null}}';
    for (const chunkSize of [1, 2, 5, 64 * 1024]) {
      assert.deepEqual(
        await collect(fixture(text, `j${++fileCounter}.jsonl`), { chunkSize }),
        [
          { line: 1, record: { id: 1, name: 'Zoë 🙂' } },
          { line: 4, record: { id: 2, tags: ['a', 'b'] } },
          { line: 5, record: { id: 3, nested: { x: null } } },
        ],
        `chunkSize ${chunkSize}`,
      );
    }
  });

  test('a bad line throws with file, line and the parser message, after the good lines', async () => {
    const file = fixture('{"id":1}\n{"id":2,}\n{"id":3}\n', 'bad.jsonl');
    const seen: number[] = [];
    const err = await rejectsWith(
      (async () => {
        for await (const r of readJsonl(file, {})) seen.push(r.line);
      })(),
      /bad\.jsonl:2: invalid JSON: .+/,
      2,
    );
    assert.equal(err.file, file);
    assert.deepEqual(seen, [1]);
  });

  test('onError reports bad lines and non-objects and continues', async () => {
    const file = fixture('{"id":1}\n[1,2]\nnot json\n42\nnull\n"s"\n{"id":2}\n{"id":\n', 'mixed.jsonl');
    const errors: SourceFileError[] = [];
    const records = await collect(file, { onError: (e) => errors.push(e) });
    assert.deepEqual(
      records.map((r) => [r.line, r.record.id]),
      [
        [1, 1],
        [7, 2],
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.line),
      [2, 3, 4, 5, 6, 8],
    );
    assert.deepEqual(
      errors.map((e) => e.reason.replace(/:.*/, '')),
      ['expected a JSON object, found an array', 'invalid JSON', 'expected a JSON object, found a number', 'expected a JSON object, found null', 'expected a JSON object, found a string', 'invalid JSON'],
    );
  });

  test('encoding option and missing file', async () => {
    const file = fixture(Buffer.from('{"name":"Müller"}\n', 'latin1'), 'latin1.jsonl');
    assert.deepEqual((await collect(file, { encoding: 'latin1' }))[0].record, { name: 'Müller' });
    await rejectsWith(collect(file), /latin1\.jsonl:1: invalid utf-8 byte sequence/, 1);
    const missing = path.join(tmp, 'missing.jsonl');
    await rejectsWith(collect(missing), `${missing}: no such file`);
  });
});

describe('expandSourcePath', () => {
  const base = path.join(tmp, 'globs');
  const touch = (rel: string): void => {
    const p = path.join(base, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, 'x\n');
  };
  for (const rel of ['a.csv', 'b.csv', 'c.txt', '.hidden.csv', 'export[1].csv', 'sub/d.csv', 'sub/deeper/e.csv', 'sub/deeper/f.json', '.git/g.csv', 'x1.csv', 'x2.csv', 'xa.csv', 'dir.csv/inner.csv']) {
    touch(rel);
  }
  const abs = (...rels: string[]): string[] => rels.map((r) => path.join(base, r));

  test('a plain file, relative or absolute', async () => {
    assert.deepEqual(await expandSourcePath(base, 'a.csv'), abs('a.csv'));
    assert.deepEqual(await expandSourcePath('/elsewhere', path.join(base, 'sub/d.csv')), abs('sub/d.csv'));
    assert.deepEqual(await expandSourcePath(path.join(base, 'sub'), '../b.csv'), abs('b.csv'));
  });

  test('a missing plain file throws a clear SourceFileError; so does a directory', async () => {
    const err = await rejectsWith(expandSourcePath(base, 'data/missing.csv'), /missing\.csv: no such file \(path "data\/missing\.csv" relative to .*globs\)$/);
    assert.equal(err.file, path.join(base, 'data/missing.csv'));
    await rejectsWith(expandSourcePath(base, 'sub'), /is a directory/);
  });

  test('*.csv matches files in one directory, sorted, without dotfiles or directories', async () => {
    assert.deepEqual(await expandSourcePath(base, '*.csv'), abs('a.csv', 'b.csv', 'export[1].csv', 'x1.csv', 'x2.csv', 'xa.csv'));
    assert.deepEqual(await expandSourcePath(base, '.*.csv'), abs('.hidden.csv'));
  });

  test('**/*.csv matches at any depth (including none), skipping hidden directories', async () => {
    assert.deepEqual(
      await expandSourcePath(base, '**/*.csv'),
      abs('a.csv', 'b.csv', 'dir.csv/inner.csv', 'export[1].csv', 'sub/d.csv', 'sub/deeper/e.csv', 'x1.csv', 'x2.csv', 'xa.csv'),
    );
    assert.deepEqual(await expandSourcePath(base, 'sub/**'), abs('sub/d.csv', 'sub/deeper/e.csv', 'sub/deeper/f.json'));
    assert.deepEqual(await expandSourcePath(base, 'sub/**/e.csv'), abs('sub/deeper/e.csv'));
    assert.deepEqual(await expandSourcePath(base, path.join(base, '*/deeper/*.json')), abs('sub/deeper/f.json'));
  });

  test('? and character classes', async () => {
    assert.deepEqual(await expandSourcePath(base, 'x?.csv'), abs('x1.csv', 'x2.csv', 'xa.csv'));
    assert.deepEqual(await expandSourcePath(base, 'x[12].csv'), abs('x1.csv', 'x2.csv'));
    assert.deepEqual(await expandSourcePath(base, 'x[0-9].csv'), abs('x1.csv', 'x2.csv'));
    assert.deepEqual(await expandSourcePath(base, 'x[!0-9].csv'), abs('xa.csv'));
    assert.deepEqual(await expandSourcePath(base, '[ab].csv'), abs('a.csv', 'b.csv'));
  });

  test('a file whose name looks like a glob is taken literally', async () => {
    assert.deepEqual(await expandSourcePath(base, 'export[1].csv'), abs('export[1].csv'));
  });

  test('glob characters in baseDir are literal', async () => {
    const odd = path.join(tmp, 'proj[1]*');
    fs.mkdirSync(path.join(odd, 'data'), { recursive: true });
    fs.writeFileSync(path.join(odd, 'data', 'p.csv'), 'x\n');
    assert.deepEqual(await expandSourcePath(odd, 'data/*.csv'), [path.join(odd, 'data', 'p.csv')]);
    assert.deepEqual(await expandSourcePath(path.join(odd, 'data'), '../**/*.csv'), [path.join(odd, 'data', 'p.csv')]);
  });

  test('a glob that matches nothing returns []', async () => {
    assert.deepEqual(await expandSourcePath(base, '*.parquet'), []);
    assert.deepEqual(await expandSourcePath(base, 'no-such-dir/**/*.csv'), []);
    assert.deepEqual(await expandSourcePath(base, 'a.csv/*'), []);
  });
});
