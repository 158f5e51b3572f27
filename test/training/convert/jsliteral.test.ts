import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { extractBundledExport, JsLiteralError, parseJsLiteral } from '../../../training/convert/jsliteral.js';

/** Wrap a module body the way browserify's prelude does (shape of the nsfwjs model bundles). */
const bundle = (param: string, body: string): string =>
  `!function(t){if("object"==typeof exports)module.exports=t();else{(this||self).model=t()}}(function(){return function t(e,a,l){return a}({1:[function(r,${param},x){${body}},{}]},{},[1])(1)});`;

void describe('parseJsLiteral', () => {
  void it('reads the data forms minifiers emit', () => {
    const src = `{a:1,"b":[.5,-.25,5.,1e3,-2E-2,0x1F],c:!0,d:!1,'e':'it\\'s',f:null,g:void 0,h:{},i:[],$j_2:"\\u0041\\x42\\n",3:true,}`;
    const { value, end } = parseJsLiteral(src);
    assert.equal(end, src.length);
    assert.deepEqual(JSON.parse(JSON.stringify(value)), {
      a: 1,
      b: [0.5, -0.25, 5, 1000, -0.02, 31],
      c: true,
      d: false,
      e: "it's",
      f: null,
      h: {},
      i: [],
      $j_2: 'AB\n',
      3: true,
    });
    assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value) && 'g' in value && value.g === undefined);
  });

  void it('keeps __proto__ as plain data', () => {
    const { value } = parseJsLiteral('{__proto__:{polluted:1}}');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.keys(value as object), ['__proto__']);
  });

  void it('rejects code with the offset of the problem', () => {
    for (const [src, at] of [
      ['{a:foo}', 3],
      ['{a:1+2}', 4],
      ['[1,f()]', 3],
      ['{a:"x}', 3],
      ['{a:!2}', 3],
    ] as const) {
      assert.throws(
        () => {
          const { end } = parseJsLiteral(src);
          if (end !== src.length) throw new JsLiteralError(end, 'trailing text');
        },
        (e: unknown) => e instanceof JsLiteralError && e.offset === at,
        src,
      );
    }
  });
});

void describe('extractBundledExport', () => {
  void it('returns the literal module 1 exports, whatever the parameter names', () => {
    assert.deepEqual(extractBundledExport(bundle('m', 'm.exports={format:"graph-model",n:[1,2]}')), { format: 'graph-model', n: [1, 2] });
    assert.equal(extractBundledExport(bundle('e', 'e.exports="QUJD"')), 'QUJD');
  });

  void it('refuses bundles whose export is computed', () => {
    assert.throws(() => extractBundledExport(bundle('m', 'm.exports=require("fs")')), JsLiteralError);
    assert.throws(() => extractBundledExport(bundle('m', 'm.exports={a:1};globalThis.x=1')), /followed by more code/);
    assert.throws(() => extractBundledExport('module.exports={a:1}'), /no browserify module/);
  });
});
