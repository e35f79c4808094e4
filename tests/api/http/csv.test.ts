// The export's CSV cells: RFC 4180 quoting, and a ' before what a spreadsheet would run as a formula.
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvCell, csvRow } from '../../../server/api/http/export/csv';

describe('csvCell', () => {
  it('leaves plain text, numbers and booleans as they are, and null as empty', () => {
    expect([csvCell('payment.paid'), csvCell(9900), csvCell(true), csvCell(null), csvCell(undefined), csvCell('')]).toEqual(['payment.paid', '9900', 'true', '', '', '']);
  });

  it('quotes a field with a quote, comma, line feed or carriage return, doubling its quotes', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('one\ntwo')).toBe('"one\ntwo"');
    expect(csvCell('one\rtwo')).toBe('"one\rtwo"');
  });

  it('prefixes cells a spreadsheet would run as a formula with a quote mark, and still quotes them when needed', () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r']) expect(csvCell(`${start}SUM(A1)`)).toMatch(/^"?'/);
    expect(csvCell('=HYPERLINK("http://x.test","go")')).toBe(`"'=HYPERLINK(""http://x.test"",""go"")"`);
    expect(csvCell('a=b')).toBe('a=b');
  });

  it('makes rows a CSV parser reads back cell for cell', () => {
    const cells = ['plain', 'a,b', 'say "hi"', 'one\r\ntwo', '=1+1', '', '-5'];
    const text = csvRow(cells) + csvRow(['x', 'y', 'z', '', '', '', '']);
    expect(parse(text)).toEqual([['plain', 'a,b', 'say "hi"', 'one\r\ntwo', "'=1+1", '', "'-5"], ['x', 'y', 'z', '', '', '', '']]);
  });
});
